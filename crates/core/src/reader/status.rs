//! SW3, the SAM's own status byte (DOMAIN.md §1.5).

/// The SAM status byte of a response. Codes outside the standard's table
/// are kept as [`Sw3::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sw3 {
    /// 90 操作成功.
    Success,
    /// 91 居民身份证中无此项内容.
    NoContent,
    /// 9F 寻找居民身份证成功.
    FindOk,
    /// 10 接收业务终端数据的校验和错.
    BadChecksum,
    /// 11 接收业务终端数据的长度错.
    BadLength,
    /// 21 接收业务终端的命令错误.
    BadCommand,
    /// 23 越权操作.
    Unauthorized,
    /// 24 无法识别的错误.
    UnknownError,
    /// 31 居民身份证认证SAM_A失败.
    CardAuthSamFailed,
    /// 32 SAM_A认证居民身份证失败.
    SamAuthCardFailed,
    /// 33 信息验证失败.
    VerifyFailed,
    /// 37 指纹信息验证错误.
    FingerprintError,
    /// 3F 信息长度错误.
    InfoLength,
    /// 40 无法识别的居民身份证类型.
    UnknownCardType,
    /// 41 读居民身份证操作失败 (card moved away during read).
    ReadFailed,
    /// 47 取随机数失败.
    RandomFailed,
    /// 80 寻找居民身份证失败 (no card).
    NoCard,
    /// 81 选取居民身份证失败.
    SelectFailed,
    /// 60 SAM_A自检失败，不能接收命令.
    SamSelfTestFailed,
    /// 66 SAM_A没经过授权，无法使用.
    SamUnauthorized,
    /// Any other code.
    Other(u8),
}

/// For an elderly user: the card could not be read, and what to do.
const MSG_READ_AGAIN: &str = "未能读取身份证，请把身份证平放在阅读器感应区，不要移动";
/// For an elderly user: the reader itself is at fault.
const MSG_READER_FAULT: &str = "身份证阅读器出现故障，请联系工作人员";

impl Sw3 {
    /// The variant for a status byte.
    pub fn from_code(code: u8) -> Sw3 {
        match code {
            0x90 => Sw3::Success,
            0x91 => Sw3::NoContent,
            0x9F => Sw3::FindOk,
            0x10 => Sw3::BadChecksum,
            0x11 => Sw3::BadLength,
            0x21 => Sw3::BadCommand,
            0x23 => Sw3::Unauthorized,
            0x24 => Sw3::UnknownError,
            0x31 => Sw3::CardAuthSamFailed,
            0x32 => Sw3::SamAuthCardFailed,
            0x33 => Sw3::VerifyFailed,
            0x37 => Sw3::FingerprintError,
            0x3F => Sw3::InfoLength,
            0x40 => Sw3::UnknownCardType,
            0x41 => Sw3::ReadFailed,
            0x47 => Sw3::RandomFailed,
            0x80 => Sw3::NoCard,
            0x81 => Sw3::SelectFailed,
            0x60 => Sw3::SamSelfTestFailed,
            0x66 => Sw3::SamUnauthorized,
            other => Sw3::Other(other),
        }
    }

    /// The status byte.
    pub fn code(self) -> u8 {
        match self {
            Sw3::Success => 0x90,
            Sw3::NoContent => 0x91,
            Sw3::FindOk => 0x9F,
            Sw3::BadChecksum => 0x10,
            Sw3::BadLength => 0x11,
            Sw3::BadCommand => 0x21,
            Sw3::Unauthorized => 0x23,
            Sw3::UnknownError => 0x24,
            Sw3::CardAuthSamFailed => 0x31,
            Sw3::SamAuthCardFailed => 0x32,
            Sw3::VerifyFailed => 0x33,
            Sw3::FingerprintError => 0x37,
            Sw3::InfoLength => 0x3F,
            Sw3::UnknownCardType => 0x40,
            Sw3::ReadFailed => 0x41,
            Sw3::RandomFailed => 0x47,
            Sw3::NoCard => 0x80,
            Sw3::SelectFailed => 0x81,
            Sw3::SamSelfTestFailed => 0x60,
            Sw3::SamUnauthorized => 0x66,
            Sw3::Other(code) => code,
        }
    }

    /// 90 (success) or 9F (find OK).
    pub fn is_ok(self) -> bool {
        matches!(self, Sw3::Success | Sw3::FindOk)
    }

    /// The standard's meaning (DOMAIN §1.5, Chinese), for logs and staff.
    pub fn meaning(self) -> &'static str {
        match self {
            Sw3::Success => "操作成功",
            Sw3::NoContent => "居民身份证中无此项内容",
            Sw3::FindOk => "寻找居民身份证成功",
            Sw3::BadChecksum => "接收业务终端数据的校验和错",
            Sw3::BadLength => "接收业务终端数据的长度错",
            Sw3::BadCommand => "接收业务终端的命令错误",
            Sw3::Unauthorized => "越权操作",
            Sw3::UnknownError => "无法识别的错误",
            Sw3::CardAuthSamFailed => "居民身份证认证SAM_A失败",
            Sw3::SamAuthCardFailed => "SAM_A认证居民身份证失败",
            Sw3::VerifyFailed => "信息验证失败",
            Sw3::FingerprintError => "指纹信息验证错误",
            Sw3::InfoLength => "信息长度错误",
            Sw3::UnknownCardType => "无法识别的居民身份证类型",
            Sw3::ReadFailed => "读居民身份证操作失败",
            Sw3::RandomFailed => "取随机数失败",
            Sw3::NoCard => "寻找居民身份证失败",
            Sw3::SelectFailed => "选取居民身份证失败",
            Sw3::SamSelfTestFailed => "SAM_A自检失败，不能接收命令",
            Sw3::SamUnauthorized => "SAM_A没经过授权，无法使用",
            Sw3::Other(_) => "未定义的状态码",
        }
    }

    /// Plain words for an elderly user at the reader, with what to do; for
    /// faults of the reader itself, a request to call staff.
    pub fn user_message(self) -> &'static str {
        match self {
            Sw3::Success => "身份证读取成功",
            Sw3::FindOk => "已找到身份证，正在读取，请不要移动",
            Sw3::NoContent => "身份证中没有这项信息",
            Sw3::NoCard => "请把身份证放在阅读器上",
            Sw3::ReadFailed => "读卡时身份证移动了，请把身份证平放在阅读器上，不要移动",
            Sw3::SelectFailed
            | Sw3::CardAuthSamFailed
            | Sw3::SamAuthCardFailed
            | Sw3::VerifyFailed
            | Sw3::UnknownCardType
            | Sw3::InfoLength => MSG_READ_AGAIN,
            Sw3::BadChecksum
            | Sw3::BadLength
            | Sw3::BadCommand
            | Sw3::Unauthorized
            | Sw3::UnknownError
            | Sw3::FingerprintError
            | Sw3::RandomFailed
            | Sw3::SamSelfTestFailed
            | Sw3::SamUnauthorized
            | Sw3::Other(_) => MSG_READER_FAULT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code of DOMAIN §1.5 with its meaning.
    const TABLE: [(u8, Sw3, &str); 20] = [
        (0x90, Sw3::Success, "操作成功"),
        (0x91, Sw3::NoContent, "居民身份证中无此项内容"),
        (0x9F, Sw3::FindOk, "寻找居民身份证成功"),
        (0x10, Sw3::BadChecksum, "接收业务终端数据的校验和错"),
        (0x11, Sw3::BadLength, "接收业务终端数据的长度错"),
        (0x21, Sw3::BadCommand, "接收业务终端的命令错误"),
        (0x23, Sw3::Unauthorized, "越权操作"),
        (0x24, Sw3::UnknownError, "无法识别的错误"),
        (0x80, Sw3::NoCard, "寻找居民身份证失败"),
        (0x81, Sw3::SelectFailed, "选取居民身份证失败"),
        (0x31, Sw3::CardAuthSamFailed, "居民身份证认证SAM_A失败"),
        (0x32, Sw3::SamAuthCardFailed, "SAM_A认证居民身份证失败"),
        (0x33, Sw3::VerifyFailed, "信息验证失败"),
        (0x37, Sw3::FingerprintError, "指纹信息验证错误"),
        (0x3F, Sw3::InfoLength, "信息长度错误"),
        (0x40, Sw3::UnknownCardType, "无法识别的居民身份证类型"),
        (0x41, Sw3::ReadFailed, "读居民身份证操作失败"),
        (0x47, Sw3::RandomFailed, "取随机数失败"),
        (0x60, Sw3::SamSelfTestFailed, "SAM_A自检失败，不能接收命令"),
        (0x66, Sw3::SamUnauthorized, "SAM_A没经过授权，无法使用"),
    ];

    #[test]
    fn table_codes_and_meanings() {
        for (code, sw3, meaning) in TABLE {
            assert_eq!(Sw3::from_code(code), sw3);
            assert_eq!(sw3.code(), code);
            assert_eq!(sw3.meaning(), meaning);
        }
    }

    #[test]
    fn every_byte_round_trips() {
        for code in 0..=u8::MAX {
            let sw3 = Sw3::from_code(code);
            assert_eq!(sw3.code(), code);
            let known = TABLE.iter().any(|(c, _, _)| *c == code);
            assert_eq!(!matches!(sw3, Sw3::Other(_)), known, "{code:02X}");
        }
    }

    #[test]
    fn only_90_and_9f_are_ok() {
        for code in 0..=u8::MAX {
            assert_eq!(Sw3::from_code(code).is_ok(), code == 0x90 || code == 0x9F);
        }
    }

    #[test]
    fn user_messages() {
        assert_eq!(Sw3::NoCard.user_message(), "请把身份证放在阅读器上");
        assert!(Sw3::ReadFailed.user_message().contains("移动"));
        assert_ne!(Sw3::ReadFailed.user_message(), MSG_READ_AGAIN);
        for code in [0x81, 0x31, 0x32, 0x33, 0x40] {
            assert_eq!(
                Sw3::from_code(code).user_message(),
                MSG_READ_AGAIN,
                "{code:02X}"
            );
        }
        for code in [0x10, 0x11, 0x21, 0x23, 0x24, 0x60, 0x66, 0x47, 0x00, 0xFF] {
            assert_eq!(
                Sw3::from_code(code).user_message(),
                "身份证阅读器出现故障，请联系工作人员",
                "{code:02X}"
            );
        }
        // User texts never carry the jargon of the standard.
        for code in 0..=u8::MAX {
            let m = Sw3::from_code(code).user_message();
            assert!(!m.contains("SAM"), "{m}");
            assert!(!m.is_empty());
        }
    }
}
