//! Nation (民族) codes of the resident card (GB/T 3304, DOMAIN.md §1.6).

/// GB/T 3304 code → name, in the standard's order. 46 is 德昂 (one
/// open-source driver misspells it 德昴).
pub const NATIONS: [(&str, &str); 58] = [
    ("01", "汉"),
    ("02", "蒙古"),
    ("03", "回"),
    ("04", "藏"),
    ("05", "维吾尔"),
    ("06", "苗"),
    ("07", "彝"),
    ("08", "壮"),
    ("09", "布依"),
    ("10", "朝鲜"),
    ("11", "满"),
    ("12", "侗"),
    ("13", "瑶"),
    ("14", "白"),
    ("15", "土家"),
    ("16", "哈尼"),
    ("17", "哈萨克"),
    ("18", "傣"),
    ("19", "黎"),
    ("20", "傈僳"),
    ("21", "佤"),
    ("22", "畲"),
    ("23", "高山"),
    ("24", "拉祜"),
    ("25", "水"),
    ("26", "东乡"),
    ("27", "纳西"),
    ("28", "景颇"),
    ("29", "柯尔克孜"),
    ("30", "土"),
    ("31", "达斡尔"),
    ("32", "仫佬"),
    ("33", "羌"),
    ("34", "布朗"),
    ("35", "撒拉"),
    ("36", "毛南"),
    ("37", "仡佬"),
    ("38", "锡伯"),
    ("39", "阿昌"),
    ("40", "普米"),
    ("41", "塔吉克"),
    ("42", "怒"),
    ("43", "乌孜别克"),
    ("44", "俄罗斯"),
    ("45", "鄂温克"),
    ("46", "德昂"),
    ("47", "保安"),
    ("48", "裕固"),
    ("49", "京"),
    ("50", "塔塔尔"),
    ("51", "独龙"),
    ("52", "鄂伦春"),
    ("53", "赫哲"),
    ("54", "门巴"),
    ("55", "珞巴"),
    ("56", "基诺"),
    ("97", "其他"),
    ("98", "外国血统中国籍人士"),
];

/// GB/T 3304 code → name (`"01"` 汉 … `"56"` 基诺, `"97"` 其他, `"98"`
/// 外国血统中国籍人士); `None` for any other string.
pub fn nation_name(code: &str) -> Option<&'static str> {
    NATIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        assert_eq!(nation_name("01"), Some("汉"));
        assert_eq!(nation_name("02"), Some("蒙古"));
        assert_eq!(nation_name("46"), Some("德昂"));
        assert_eq!(nation_name("56"), Some("基诺"));
        assert_eq!(nation_name("97"), Some("其他"));
        assert_eq!(nation_name("98"), Some("外国血统中国籍人士"));
    }

    #[test]
    fn unknown_codes() {
        for code in ["", "00", "1", "57", "96", "99", "001", " 1", "汉"] {
            assert_eq!(nation_name(code), None, "{code}");
        }
    }

    #[test]
    fn table_is_01_to_56_then_97_98() {
        let expected: Vec<String> = (1..=56)
            .chain([97, 98])
            .map(|n| format!("{n:02}"))
            .collect();
        let codes: Vec<&str> = NATIONS.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, expected);
        let mut names: Vec<&str> = NATIONS.iter().map(|(_, n)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NATIONS.len(), "names are unique");
    }
}
