//! The Word CV opens in a real reader: pandoc converts it back with headings, bullets and
//! bold intact. `scripts/test.sh` installs pandoc (Debian package) when it is missing.

use std::process::Command;

#[test]
fn pandoc_reads_headings_bullets_and_bold_from_the_word_cv() {
    let dir = tempfile::tempdir().unwrap();
    let md = "# Maria Keller\n\n## Experience\n\n### Staff Engineer — Freightline (2021–Present)\n\n- Cut p99 latency by **45%**\n- Mentored 5 engineers\n";
    let path = dir.path().join("CV.docx");
    std::fs::write(&path, job_runner::artifacts::markdown_to_docx(md).unwrap()).unwrap();
    let out = Command::new("pandoc")
        .args(["--from", "docx", "--to", "markdown", "--wrap", "none"])
        .arg(&path)
        .output()
        .expect("pandoc must be installed to read CV.docx (scripts/test.sh installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("# Maria Keller"), "{text}");
    assert!(text.contains("## Experience"), "{text}");
    assert!(text.contains("### Staff Engineer"), "{text}");
    assert!(
        text.contains("-   Cut p99 latency by **45%**"),
        "bullets and bold: {text}"
    );
    assert!(text.contains("-   Mentored 5 engineers"), "{text}");
}
