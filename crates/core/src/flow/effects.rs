//! What goes into the flow (events) and what comes out of it (effects).
//!
//! Events are user intents from the UI, completions from worker threads and
//! timer firings. Effects are requests to the outside world, carried out by the
//! app's driver on worker threads; their completions come back as events that
//! carry the [`RequestId`] or [`TimerId`] they answer, so stale ones are ignored.

use std::time::Duration;

use lifecert_protocol::{CertResult, Method, PersonStatus};
use time::{Date, OffsetDateTime};

use super::screen::FlashShow;
use crate::action::Action;
use crate::cycle::NextDue;
use crate::id::IdNumber;

/// Identifies one effect that expects a completion event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Identifies one started timer; a firing whose id is no longer current is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(pub u64);

/// A part of the kiosk that can fail and recover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    Camera,
    Models,
    Store,
    CardReader,
    Printer,
    Server,
    /// The kiosk's registration with the server (its device key and the
    /// server's sealing key). Unregistered, no result could be sealed.
    Registration,
}

impl Part {
    /// Every part, in the order the staff panel lists them.
    pub const ALL: [Part; 7] = [
        Part::Camera,
        Part::Models,
        Part::Store,
        Part::CardReader,
        Part::Printer,
        Part::Server,
        Part::Registration,
    ];

    /// Without this part no certification can run: the kiosk goes out of service.
    pub fn is_essential(self) -> bool {
        matches!(
            self,
            Part::Camera | Part::Models | Part::Store | Part::Registration
        )
    }

    /// Plain Chinese name of the part.
    pub fn name_zh(self) -> &'static str {
        match self {
            Part::Camera => "摄像头",
            Part::Models => "人脸识别模型",
            Part::Store => "本地数据存储",
            Part::CardReader => "身份证阅读器",
            Part::Printer => "凭条打印机",
            Part::Server => "社保中心网络",
            Part::Registration => "本机注册",
        }
    }

    /// What staff should do about a fault of this part.
    pub fn staff_action_zh(self) -> &'static str {
        match self {
            Part::Camera => "请检查摄像头连线，或在工作人员菜单中运行摄像头自检",
            Part::Models => "请运行模型构建命令重新生成模型文件",
            Part::Store => "请检查数据目录的磁盘空间和权限",
            Part::CardReader => "请检查身份证阅读器的连线和电源",
            Part::Printer => "请检查打印机的纸张、连线和电源",
            Part::Server => "请检查网络连接；认证结果会在本机排队，联网后自动上传",
            Part::Registration => {
                "本机尚未在社保中心服务器注册：请在管理页面创建注册令牌，\
                 然后在本机运行 lifecert register --server 服务器地址 --token 令牌"
            }
        }
    }
}

/// Who an identity entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The pensioner being certified (or whose history is queried).
    Pensioner,
    /// The person operating the kiosk for someone else (为他人办理).
    Operator,
}

/// What a session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// 开始认证.
    Certify,
    /// 认证记录查询.
    History,
}

/// A live quality problem reported by the liveness engine, shown as a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QualityHint {
    NoFace,
    SeveralFaces,
    TooDark,
    TooBright,
    TooFar,
    TooNear,
    OffCentre,
    Blurry,
    NotFacing,
}

impl QualityHint {
    /// Every hint, in a stable order.
    pub const ALL: [QualityHint; 9] = [
        QualityHint::NoFace,
        QualityHint::SeveralFaces,
        QualityHint::TooDark,
        QualityHint::TooBright,
        QualityHint::TooFar,
        QualityHint::TooNear,
        QualityHint::OffCentre,
        QualityHint::Blurry,
        QualityHint::NotFacing,
    ];

    /// The hint shown and voiced, in plain Chinese.
    pub fn text_zh(self) -> &'static str {
        match self {
            QualityHint::NoFace => "请把脸对准屏幕上的框",
            QualityHint::SeveralFaces => "请只保留一人在镜头前",
            QualityHint::TooDark => "光线太暗，请到明亮处",
            QualityHint::TooBright => "光线太亮，请避开强光",
            QualityHint::TooFar => "请靠近一点",
            QualityHint::TooNear => "请离远一点",
            QualityHint::OffCentre => "请把脸移到框的中间",
            QualityHint::Blurry => "请保持不动",
            QualityHint::NotFacing => "请正对屏幕",
        }
    }
}

/// Why a capture attempt did not produce a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptureFailure {
    /// Liveness ran, the face did not match the template.
    Mismatch,
    /// An action was not completed (未按要求完成指定动作).
    LivenessIncomplete { action: Option<Action> },
    /// The total time ran out.
    Timeout,
    /// A different face appeared mid-session.
    PersonChanged,
    /// The camera or models failed during capture.
    DeviceFault,
}

/// The completion of a capture (liveness + matching) started by [`Effect::StartCapture`].
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureOutcome {
    /// Liveness passed and the face matched the template (on-device).
    Matched { score: f32 },
    /// Liveness passed in offline mode; the sealed evidence awaits the server.
    EvidenceCaptured,
    /// The attempt failed.
    Failed(CaptureFailure),
}

/// How a staff face enrolment ended (completion of [`Effect::StartEnrolment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrolOutcome {
    /// The template is stored on this kiosk; `sent` when the central system
    /// also has it, otherwise it is queued for upload.
    Saved { frames: u8, sent: bool },
    /// Not enough good frames in the time allowed.
    NotEnoughFrames,
    /// The camera or models failed.
    DeviceFault,
    /// The template could not be stored.
    StoreFailed,
}

impl EnrolOutcome {
    /// The outcome in plain words, for the staff screen.
    pub fn text_zh(self) -> String {
        match self {
            EnrolOutcome::Saved { frames, sent: true } => {
                format!("人脸信息采集完成（{frames}张），已上传社保中心")
            }
            EnrolOutcome::Saved {
                frames,
                sent: false,
            } => {
                format!("人脸信息采集完成（{frames}张），已保存在本机，联网后上传")
            }
            EnrolOutcome::NotEnoughFrames => {
                "没有采集到足够清晰的正脸照片，请调整光线和距离后重试".into()
            }
            EnrolOutcome::DeviceFault => "摄像头或识别模型故障，请检查设备后重试".into(),
            EnrolOutcome::StoreFailed => "人脸信息保存失败，请检查数据目录的磁盘空间和权限".into(),
        }
    }
}

/// Why the central system could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceFailure {
    /// Network down, timeout, TLS failure: offline evidence is accepted.
    Unreachable,
    /// The server answered with an error; `code` is its stable error code.
    Server { code: String },
}

/// One entry of a person's certification history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub on: Date,
    pub result: CertResult,
    pub method: Method,
}

/// Inputs to the flow.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Something the person did on screen.
    Intent(Intent),
    /// The ID card reader read a card (SAM-authenticated chip; peripherals).
    CardRead(IdNumber),
    /// A card was on the reader but could not be used: plain words for the
    /// identity screen (card moved during the read, unsupported card, …).
    CardProblem(&'static str),
    /// The card that was read has been taken off the reader.
    CardRemoved,
    /// Completion of [`Effect::PrintReceipt`]: `Err` holds plain words for the
    /// screen. The result itself is recorded either way.
    PrintDone(Result<(), &'static str>),
    /// Completion of [`Effect::CheckEligibility`].
    Eligibility {
        request: RequestId,
        outcome: Result<PersonStatus, ServiceFailure>,
    },
    /// The liveness engine started an action (index is 0-based).
    ActionStarted {
        request: RequestId,
        index: u8,
        total: u8,
        action: Action,
    },
    /// The screen-light challenge starts (`Some`: paint its tints) or ends.
    Flash {
        request: RequestId,
        show: Option<FlashShow>,
    },
    /// A live quality hint, or `None` when the picture is good again.
    Hint {
        request: RequestId,
        hint: Option<QualityHint>,
    },
    /// Liveness finished; matching runs (the camera can go off).
    LivenessDone { request: RequestId },
    /// Completion of [`Effect::StartCapture`]; `at` is the driver's clock.
    CaptureDone {
        request: RequestId,
        outcome: CaptureOutcome,
        at: OffsetDateTime,
    },
    /// Completion of [`Effect::RecordResult`]: the record is durably queued.
    Recorded { request: RequestId, receipt: String },
    /// [`Effect::RecordResult`] failed: the local store is broken.
    RecordFailed { request: RequestId },
    /// Completion of [`Effect::FetchHistory`].
    History {
        request: RequestId,
        outcome: Result<Vec<HistoryEntry>, ServiceFailure>,
    },
    /// Completion of [`Effect::VerifyPin`].
    PinChecked { request: RequestId, ok: bool },
    /// Enrolment progress: good frames collected so far, and a live hint.
    EnrolProgress {
        request: RequestId,
        good: u8,
        needed: u8,
        hint: Option<QualityHint>,
    },
    /// Completion of [`Effect::StartEnrolment`].
    EnrolDone {
        request: RequestId,
        outcome: EnrolOutcome,
    },
    /// A part failed (health monitor).
    Fault(Part),
    /// A part works again.
    Recovered(Part),
    /// A timer started by [`Effect::StartTimer`] fired.
    Timer(TimerId),
}

/// What a person can do on screen. Screens return these; they never mutate state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// 开始认证.
    StartCertification,
    /// 认证记录查询.
    QueryHistory,
    /// 工作人员.
    Staff,
    /// 同意.
    Accept,
    /// 不同意.
    Decline,
    /// 本人.
    Myself,
    /// 为他人办理.
    ForSomeoneElse,
    /// A keypad key: `0`–`9` or `X`.
    Key(char),
    /// Delete the last key.
    Backspace,
    /// Clear the entry.
    Clear,
    /// Confirm the entry.
    Submit,
    /// 我准备好了 (guidance → capture).
    Ready,
    /// Try the capture again.
    Retry,
    /// Check the server again after a failure.
    RetryService,
    /// Go on with offline evidence when the server is unreachable.
    ContinueOffline,
    /// 申诉 / ask for manual review.
    Appeal,
    /// 打印凭条.
    Print,
    /// Back one step.
    Back,
    /// 返回首页 / 完成.
    Home,
    /// Staff: sync the queue now.
    SyncNow,
    /// Staff: camera self-test.
    SelfTest,
    /// Staff: face enrolment (人脸采集建模).
    Enrol,
    /// Staff: leave staff mode.
    ExitStaff,
}

/// A voice prompt. Every instruction and result has one (clips are generated
/// from [`Prompt::text_zh`] by the voice build script, named by [`Prompt::clip`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prompt {
    Welcome,
    Consent,
    Alternatives,
    ChooseWho,
    EnterOperatorId,
    EnterPensionerId,
    Checking,
    NotInScope,
    IdentityChanged,
    Suspended,
    Terminated,
    AlreadyCertified,
    NoTemplate,
    ServiceUnavailable,
    Guidance,
    Do(Action),
    Hint(QualityHint),
    Processing,
    Success,
    Accepted,
    FaceMismatch,
    LivenessIncomplete,
    Timeout,
    PersonChanged,
    DeviceFault,
    AppealSubmitted,
    History,
    OutOfService,
    StaffPin,
    StaffLocked,
    StaffMenu,
    EnrolId,
    EnrolCapture,
    EnrolDone,
    EnrolFailed,
    Printing,
    /// The receipt did not print (the result is kept).
    PrintFailed,
    /// A card on the reader could not be read.
    CardReadFailed,
    Goodbye,
}

impl Prompt {
    /// Every prompt, in a stable order (one clip each).
    pub fn all() -> Vec<Prompt> {
        let mut all = vec![
            Prompt::Welcome,
            Prompt::Consent,
            Prompt::Alternatives,
            Prompt::ChooseWho,
            Prompt::EnterOperatorId,
            Prompt::EnterPensionerId,
            Prompt::Checking,
            Prompt::NotInScope,
            Prompt::IdentityChanged,
            Prompt::Suspended,
            Prompt::Terminated,
            Prompt::AlreadyCertified,
            Prompt::NoTemplate,
            Prompt::ServiceUnavailable,
            Prompt::Guidance,
        ];
        all.extend(Action::ALL.map(Prompt::Do));
        all.extend(QualityHint::ALL.map(Prompt::Hint));
        all.extend([
            Prompt::Processing,
            Prompt::Success,
            Prompt::Accepted,
            Prompt::FaceMismatch,
            Prompt::LivenessIncomplete,
            Prompt::Timeout,
            Prompt::PersonChanged,
            Prompt::DeviceFault,
            Prompt::AppealSubmitted,
            Prompt::History,
            Prompt::OutOfService,
            Prompt::StaffPin,
            Prompt::StaffLocked,
            Prompt::StaffMenu,
            Prompt::EnrolId,
            Prompt::EnrolCapture,
            Prompt::EnrolDone,
            Prompt::EnrolFailed,
            Prompt::Printing,
            Prompt::PrintFailed,
            Prompt::CardReadFailed,
            Prompt::Goodbye,
        ]);
        all
    }

    /// The text spoken (and the source of the generated clip).
    pub fn text_zh(self) -> &'static str {
        match self {
            Prompt::Welcome => "欢迎使用社保待遇资格认证，请点击开始认证",
            Prompt::Consent => "认证需要采集您的人脸信息，仅用于本次资格认证。同意请点击同意",
            Prompt::Alternatives => "您也可以到社保窗口办理，或申请工作人员上门认证",
            Prompt::ChooseWho => "请选择为本人办理，还是为他人办理",
            Prompt::EnterOperatorId => "请输入您自己的身份证号码",
            Prompt::EnterPensionerId => "请放置身份证，或输入身份证号码",
            Prompt::Checking => "正在查询，请稍候",
            Prompt::NotInScope => "您不属于本次认证范围，请核对身份证号码",
            Prompt::IdentityChanged => "您的姓名或身份证号码已变更，请到社保窗口核实",
            Prompt::Suspended => "您的待遇已暂停发放，请到社保窗口办理认证和恢复手续",
            Prompt::Terminated => "您的待遇已终止，无需认证",
            Prompt::AlreadyCertified => "您本期已完成认证，无需重复认证",
            Prompt::NoTemplate => "您还没有采集人脸信息，请到社保窗口采集",
            Prompt::ServiceUnavailable => "暂时无法连接社保中心，您可以继续认证，结果联网后上传",
            Prompt::Guidance => "请摘下帽子、墨镜和口罩，正对屏幕，距离约六十厘米",
            Prompt::Do(action) => action.instruction_zh(),
            Prompt::Hint(hint) => hint.text_zh(),
            Prompt::Processing => "正在比对，请稍候",
            Prompt::Success => "认证成功",
            Prompt::Accepted => "认证信息已受理，请保留回执",
            Prompt::FaceMismatch => "人脸比对未通过，请再试一次",
            Prompt::LivenessIncomplete => "未按要求完成指定动作，请再试一次",
            Prompt::Timeout => "时间到了，请再试一次",
            Prompt::PersonChanged => "检测到更换了人，请本人认证",
            Prompt::DeviceFault => "设备出现故障，请联系工作人员",
            Prompt::AppealSubmitted => "已提交人工审核，请留意社保部门通知",
            Prompt::History => "这是您的认证记录",
            Prompt::OutOfService => "本机暂停服务，请联系工作人员",
            Prompt::StaffPin => "请输入工作人员密码",
            Prompt::StaffLocked => "密码错误次数过多，请稍后再试",
            Prompt::StaffMenu => "已进入工作人员菜单",
            Prompt::EnrolId => "请输入采集人的身份证号码",
            Prompt::EnrolCapture => "请正对摄像头，保持不动",
            Prompt::EnrolDone => "人脸信息采集完成",
            Prompt::EnrolFailed => "人脸信息采集未完成，请重试",
            Prompt::Printing => "正在打印凭条，请取走凭条",
            Prompt::PrintFailed => "凭条没有打印出来，您的认证结果已经保存，请联系工作人员",
            Prompt::CardReadFailed => "没有读到身份证，请把身份证平放在读卡区，不要移动",
            Prompt::Goodbye => "谢谢使用，再见",
        }
    }

    /// The clip's file stem under `assets/voice/zh-CN/`.
    pub fn clip(self) -> String {
        match self {
            Prompt::Do(action) => format!("do_{}", action.name()),
            Prompt::Hint(hint) => format!("hint_{}", format!("{hint:?}").to_lowercase()),
            other => {
                let debug = format!("{other:?}");
                let mut stem = String::with_capacity(debug.len() + 4);
                for (i, c) in debug.chars().enumerate() {
                    if c.is_ascii_uppercase() && i > 0 {
                        stem.push('_');
                    }
                    stem.push(c.to_ascii_lowercase());
                }
                stem
            }
        }
    }
}

/// What the driver must record after a session ends in a result.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord {
    /// The pensioner. The driver seals it into the outbox payload; never logged.
    pub person: IdNumber,
    /// The operator in proxy mode.
    pub operator: Option<IdNumber>,
    pub benefit: Option<lifecert_protocol::BenefitType>,
    pub result: CertResult,
    pub method: Method,
    pub at: OffsetDateTime,
    pub next: Option<NextDue>,
    pub score: Option<f32>,
}

/// What a receipt prints (no photo; masked ID only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub masked_id: String,
    pub masked_name: Option<String>,
    pub result_zh: String,
    pub at: OffsetDateTime,
    pub next_due_zh: Option<String>,
    pub record_id: String,
}

/// Requests to the outside world.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Play a voice prompt, interrupting the one playing.
    Speak(Prompt),
    /// Start a timer; it comes back as [`Event::Timer`].
    StartTimer { id: TimerId, after: Duration },
    /// The timer is no longer needed (its firing would be ignored anyway).
    CancelTimer(TimerId),
    /// Ask the central system for the person's status.
    CheckEligibility {
        request: RequestId,
        person: IdNumber,
    },
    /// Turn the camera on (capture and self-test only).
    CameraOn,
    /// Turn the camera off.
    CameraOff,
    /// Run liveness (and matching unless `offline`) for the person.
    StartCapture {
        request: RequestId,
        person: IdNumber,
        attempt: u8,
        offline: bool,
    },
    /// Abandon a running capture.
    CancelCapture,
    /// Durably record a result (record + outbox row in one transaction).
    RecordResult {
        request: RequestId,
        record: ResultRecord,
    },
    /// Fetch a person's certification history.
    FetchHistory {
        request: RequestId,
        person: IdNumber,
    },
    /// Check a staff PIN against the configured hash (off the UI thread).
    VerifyPin { request: RequestId, pin: String },
    /// Print a receipt.
    PrintReceipt(Receipt),
    /// Sync the outbox now.
    SyncNow,
    /// Staff enrolment: collect good frontal frames of `person` (camera on),
    /// build a template, store it and send or queue it.
    StartEnrolment {
        request: RequestId,
        person: IdNumber,
    },
    /// Write an audit entry (never names, images, embeddings or full ID numbers).
    Audit {
        event: &'static str,
        outcome: String,
        operator_masked: Option<String>,
    },
    /// Zero every buffer of the session (frames, embeddings, identity).
    WipeSession,
}
