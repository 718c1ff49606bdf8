//! The CJK font: every string on screen is Chinese.
//!
//! Looked up in this order: `display.font_path`, then the system fonts
//! (Noto Sans CJK from `fonts-noto-cjk` on Linux, then other common CJK fonts;
//! on Windows Microsoft YaHei, then SimHei and SimSun, from the fonts folder of
//! `%SystemRoot%`/`%WINDIR%`). In a collection (`.ttc`) the Simplified
//! Chinese face is chosen. With none found, start-up fails with a message
//! naming the package to install.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use skrifa::MetadataProvider;
use skrifa::raw::FileRef;
use skrifa::string::StringId;

/// Characters the chosen face must have (a sample of the UI's strings).
const PROBE: &str = "社保待遇资格认证开始同意身份证号码请眨眼张嘴向左右转头抬低";

/// Installed CJK fonts we know on Linux (and other Unix), best first.
pub const SYSTEM_FONTS: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
];

/// CJK font files in the Windows fonts folder, best first: Microsoft YaHei
/// (a collection of "Microsoft YaHei" and "Microsoft YaHei UI"; a single
/// `.ttf` on older systems), then SimHei and SimSun.
pub const WINDOWS_FONT_FILES: &[&str] = &["msyh.ttc", "msyh.ttf", "simhei.ttf", "simsun.ttc"];

/// The Windows fonts folders to search: `%SystemRoot%\Fonts`, then
/// `%WINDIR%\Fonts` when it differs, then `C:\Windows\Fonts` as a last
/// resort (when neither variable is set). `var` reads an environment variable.
pub fn windows_font_dirs(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for name in ["SystemRoot", "WINDIR"] {
        if let Some(root) = var(name).filter(|v| !v.is_empty()) {
            let dir = PathBuf::from(root).join("Fonts");
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    if dirs.is_empty() {
        dirs.push(PathBuf::from("C:\\Windows\\Fonts"));
    }
    dirs
}

/// The Windows font candidates, best first (each file in every folder of
/// [`windows_font_dirs`] before the next file).
pub fn windows_fonts(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Vec<PathBuf> {
    let dirs = windows_font_dirs(var);
    WINDOWS_FONT_FILES
        .iter()
        .flat_map(|file| dirs.iter().map(move |dir| dir.join(file)))
        .collect()
}

/// The system font files tried when `display.font_path` is unset, best first:
/// [`windows_fonts`] on Windows, [`SYSTEM_FONTS`] elsewhere.
pub fn system_fonts() -> Vec<PathBuf> {
    if cfg!(windows) {
        windows_fonts(|name| std::env::var_os(name))
    } else {
        SYSTEM_FONTS.iter().map(PathBuf::from).collect()
    }
}

/// What went wrong finding a font (the message tells the operator what to do).
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error(
        "no Chinese (CJK) font found. Install one: on Debian/Ubuntu \
         `sudo apt-get install fonts-noto-cjk`; on Windows make sure Microsoft YaHei \
         (msyh.ttc) is present; or set display.font_path to a TTF/OTF/TTC file with \
         Chinese glyphs. Looked in: {looked}"
    )]
    NotFound { looked: String },
    #[error(
        "display.font_path {path}: {reason}. Set it to a TTF/OTF/TTC file with Chinese glyphs, or to \"\" to use a system font"
    )]
    Unusable { path: PathBuf, reason: String },
}

/// A loaded font face.
#[derive(Clone)]
pub struct CjkFont {
    pub path: PathBuf,
    pub index: u32,
    pub family: String,
    pub bytes: Arc<Vec<u8>>,
}

impl std::fmt::Debug for CjkFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CjkFont")
            .field("path", &self.path)
            .field("index", &self.index)
            .field("family", &self.family)
            .finish()
    }
}

/// Chooses the face of `bytes` that covers [`PROBE`], preferring Simplified
/// Chinese ("SC") faces. `Err` says why none fits.
pub fn choose_face(bytes: &[u8]) -> Result<(u32, String), String> {
    let file = FileRef::new(bytes).map_err(|e| format!("not a font file ({e})"))?;
    let mut best: Option<(u32, String, bool)> = None;
    for (index, font) in file.fonts().enumerate() {
        let Ok(font) = font else { continue };
        let charmap = font.charmap();
        if !PROBE.chars().all(|c| charmap.map(c).is_some()) {
            continue;
        }
        let family = font
            .localized_strings(StringId::FAMILY_NAME)
            .english_or_first()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let sc = family.contains(" SC") || family.contains("YaHei") || family.contains("Hei");
        let index = u32::try_from(index).unwrap_or(0);
        let better = match &best {
            None => true,
            Some((_, _, best_sc)) => sc && !best_sc,
        };
        if better {
            best = Some((index, family, sc));
        }
    }
    best.map(|(i, f, _)| (i, f))
        .ok_or_else(|| "it has no Chinese glyphs".to_string())
}

fn load(path: &Path) -> Result<CjkFont, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it ({e})"))?;
    let (index, family) = choose_face(&bytes)?;
    Ok(CjkFont {
        path: path.to_path_buf(),
        index,
        family,
        bytes: Arc::new(bytes),
    })
}

/// Finds the font: the configured path, else the system fonts.
pub fn find(configured: Option<&Path>) -> Result<CjkFont, FontError> {
    if let Some(path) = configured {
        return load(path).map_err(|reason| FontError::Unusable {
            path: path.to_path_buf(),
            reason,
        });
    }
    find_in(&system_fonts())
}

/// The first of `candidates` that exists and has a usable Chinese face.
fn find_in(candidates: &[PathBuf]) -> Result<CjkFont, FontError> {
    for path in candidates {
        if path.exists()
            && let Ok(font) = load(path)
        {
            return Ok(font);
        }
    }
    let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(FontError::NotFound {
        looked: looked.join(", "),
    })
}

/// Installs `font` as the first choice for all text (egui's own fonts stay
/// as fallback for symbols).
pub fn install(ctx: &egui::Context, font: &CjkFont) {
    let mut fonts = egui::FontDefinitions::default();
    let data = egui::FontData::from_blob(font.bytes.clone(), font.index);
    fonts.font_data.insert("cjk".into(), Arc::new(data));
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts
            .families
            .entry(family)
            .or_default()
            .insert(0, "cjk".into());
    }
    ctx.set_fonts(fonts);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_missing_font_names_the_package_to_install() {
        let err = find(Some(Path::new("/nonexistent/font.ttf")))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("display.font_path"), "{err}");
        let not_found = FontError::NotFound { looked: "x".into() }.to_string();
        assert!(not_found.contains("fonts-noto-cjk"), "{not_found}");
    }

    #[test]
    fn a_font_without_chinese_glyphs_is_refused() {
        let err = choose_face(b"not a font").err().unwrap_or_default();
        assert!(err.contains("not a font"), "{err}");
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<std::ffi::OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| std::ffi::OsString::from(*v))
        }
    }

    #[test]
    fn windows_fonts_come_from_system_root_with_yahei_first() {
        let fonts = windows_fonts(env(&[("SystemRoot", "D:\\Win"), ("WINDIR", "D:\\Win")]));
        let dir = PathBuf::from("D:\\Win").join("Fonts");
        assert_eq!(
            fonts,
            vec![
                dir.join("msyh.ttc"),
                dir.join("msyh.ttf"),
                dir.join("simhei.ttf"),
                dir.join("simsun.ttc"),
            ]
        );
    }

    #[test]
    fn windows_font_dirs_fall_back_to_windir_then_c_windows() {
        assert_eq!(
            windows_font_dirs(env(&[("WINDIR", "E:\\W")])),
            vec![PathBuf::from("E:\\W").join("Fonts")]
        );
        assert_eq!(
            windows_font_dirs(env(&[("SystemRoot", "C:\\A"), ("WINDIR", "C:\\B")])),
            vec![
                PathBuf::from("C:\\A").join("Fonts"),
                PathBuf::from("C:\\B").join("Fonts")
            ]
        );
        let fallback = vec![PathBuf::from("C:\\Windows\\Fonts")];
        assert_eq!(windows_font_dirs(env(&[])), fallback);
        assert_eq!(windows_font_dirs(env(&[("SystemRoot", "")])), fallback);
    }

    #[test]
    fn system_fonts_match_the_platform() {
        let fonts = system_fonts();
        let first = fonts.first().map(|p| p.to_string_lossy().into_owned());
        if cfg!(windows) {
            assert!(first.is_some_and(|p| p.ends_with("msyh.ttc")), "{fonts:?}");
        } else {
            assert_eq!(first.as_deref(), Some(SYSTEM_FONTS[0]));
            assert!(
                fonts.iter().all(|p| !p.to_string_lossy().contains("msyh")),
                "{fonts:?}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_yahei_file_in_the_windows_fonts_folder_is_found() {
        // Stand-in for %SystemRoot%\Fonts\msyh.ttc: the Noto collection under that name.
        let noto = Path::new(SYSTEM_FONTS[0]);
        if !noto.exists() {
            eprintln!(
                "SKIP: {} missing (apt-get install fonts-noto-cjk)",
                noto.display()
            );
            return;
        }
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("Fonts")).unwrap();
        std::os::unix::fs::symlink(noto, root.path().join("Fonts").join("msyh.ttc")).unwrap();
        let root_str = root.path().to_str().unwrap();
        let candidates = windows_fonts(env(&[("SystemRoot", root_str)]));
        let font = find_in(&candidates).unwrap();
        assert_eq!(font.path, root.path().join("Fonts").join("msyh.ttc"));
        assert!(font.family.contains("SC"), "{font:?}");

        let empty = tempfile::tempdir().unwrap();
        let candidates = windows_fonts(env(&[("SystemRoot", empty.path().to_str().unwrap())]));
        let err = find_in(&candidates)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("msyh.ttc") && err.contains("simsun.ttc"),
            "{err}"
        );
    }

    #[test]
    fn the_system_noto_collection_yields_its_simplified_chinese_face() {
        let path = Path::new(SYSTEM_FONTS[0]);
        if !path.exists() {
            eprintln!(
                "SKIP: {} missing (apt-get install fonts-noto-cjk)",
                path.display()
            );
            return;
        }
        let font = find(Some(path)).unwrap_or_else(|e| panic!("{e}"));
        assert!(font.family.contains("SC"), "{font:?}");
        assert_eq!(font.index, 2, "{font:?}");
    }
}
