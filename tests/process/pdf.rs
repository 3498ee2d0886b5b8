//! The PDFs of a package, read by real readers (poppler-utils, installed by the test
//! command): `pdftotext` finds every heading, role and bullet of the CV in order,
//! `pdffonts` shows every font embedded, `pdfinfo` the page size and count; e-mail and
//! profile addresses are links.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::cmd;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

/// Runs `job-runner run` on an example posting and returns the package folder.
fn package(dir: &Path, posting: &str, page_size: &str) -> PathBuf {
    let out = cmd(dir)
        .env("PDF_PAGE_SIZE", page_size)
        .args([
            "run",
            &format!("{EXAMPLES}/postings/{posting}"),
            "--master-cv",
            &format!("{EXAMPLES}/master-cv.md"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cv = walk(&dir.join("applications"))
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "CV.pdf"))
        .expect("CV.pdf in the package");
    cv.parent().unwrap().to_path_buf()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn tool(name: &str, file: &Path) -> String {
    let out = Command::new(name)
        .arg(file)
        .args(if name == "pdftotext" { vec!["-"] } else { vec![] })
        .output()
        .unwrap_or_else(|e| panic!("{name} (poppler-utils, installed by scripts/test.sh): {e}"));
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every heading and bullet of the markdown, as text, in order.
fn cv_items(markdown: &str) -> Vec<String> {
    markdown
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            l.strip_prefix("- ")
                .or_else(|| l.trim_start_matches('#').strip_prefix(' '))
        })
        .map(|l| squash(&l.replace("**", "")))
        .filter(|l| !l.is_empty())
        .collect()
}

fn assert_readable(package: &Path, expected_size: &str) {
    let cv_pdf = package.join("CV.pdf");
    let markdown = std::fs::read_to_string(package.join("CV.md")).unwrap();
    let text = squash(&tool("pdftotext", &cv_pdf));
    let items = cv_items(&markdown);
    assert!(items.len() >= 10, "{items:?}");
    let mut at = 0;
    for item in &items {
        let found = text[at..]
            .find(item.as_str())
            .unwrap_or_else(|| panic!("{item:?} is not in CV.pdf after position {at}:\n{text}"));
        at += found + item.len();
    }
    let fonts = tool("pdffonts", &cv_pdf);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(!rows.is_empty(), "{fonts}");
    for row in &rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        // name, type (two words), encoding, emb, sub, uni, object id.
        assert_eq!(cols[cols.len() - 5], "yes", "font not embedded: {row}");
    }
    let info = tool("pdfinfo", &cv_pdf);
    let pages: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&pages), "the example CV fits two pages: {pages}");
    assert!(info.contains(expected_size), "{info}");
    let raw = std::fs::read(&cv_pdf).unwrap();
    let contains = |needle: &str| raw.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        contains("mailto:maria.keller@example.com"),
        "the e-mail address is a link"
    );
    assert!(
        contains("https://linkedin.com/in/maria-keller-example"),
        "the profile is a link"
    );

    let letter_pdf = package.join("cover_letter.pdf");
    let letter = squash(&std::fs::read_to_string(package.join("cover_letter.txt")).unwrap());
    let read = squash(&tool("pdftotext", &letter_pdf));
    // Under the CV's name and contact line and a date, the letter as written.
    let contact = markdown.lines().map(str::trim).find(|l| l.contains('@')).unwrap();
    assert!(read.starts_with(&format!("Maria Keller {}", squash(contact))), "{read}");
    assert!(read.ends_with(&letter), "the letter reads as written:\n{read}");
    assert!(tool("pdffonts", &letter_pdf)
        .lines()
        .skip(2)
        .all(|r| r.contains(" yes ")));
}

#[test]
fn the_cv_and_letter_pdfs_read_back_in_order_with_embedded_fonts_on_a4() {
    let dir = tempfile::tempdir().unwrap();
    let package = package(dir.path(), "backend-engineer.json", "a4");
    assert_readable(&package, "(A4)");
}

#[test]
fn another_profession_on_letter_paper_reads_back_too() {
    let dir = tempfile::tempdir().unwrap();
    let package = package(dir.path(), "registered-nurse.json", "letter");
    assert_readable(&package, "(letter)");
    let bad = cmd(dir.path())
        .env("PDF_PAGE_SIZE", "legal")
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("PDF_PAGE_SIZE must be a4 or letter"));
}
