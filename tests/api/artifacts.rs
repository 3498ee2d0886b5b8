//! Artifacts: a run serves only its own files, and no path escapes.

use serde_json::json;

use crate::helpers::{job_id, posting, raw_get_status, spawn_app, spawn_app_with, JOB};

#[actix_web::test]
async fn two_jobs_with_the_same_company_and_title_keep_their_own_files() {
    // Same company and title, different postings (the old runner served one job's CV for
    // the other because it searched every folder for the file name).
    let other = posting(&job_id(7), Some("Responsibilities:\n- Build the billing service in Go\n- Run the payment reconciliation jobs\n\nRequirements:\n- 3+ years of Go"));
    let app = spawn_app_with(|_| {}, &[other]).await;
    let a = app.start_run(JOB).await;
    let b = app.start_run(&job_id(7)).await;
    assert_eq!(app.wait_for_end(&a).await, "completed");
    assert_eq!(app.wait_for_end(&b).await, "completed");

    let dossier_a = app.get_text(&format!("/artifacts/{a}/dossier.txt")).await;
    let dossier_b = app.get_text(&format!("/artifacts/{b}/dossier.txt")).await;
    assert!(dossier_a.contains(&format!("Job id: {JOB}")));
    assert!(dossier_b.contains(&format!("Job id: {}", job_id(7))));

    let path_a = app.job_document(JOB).await["cv_path"].as_str().unwrap().to_owned();
    let path_b = app.job_document(&job_id(7)).await["cv_path"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(path_a, path_b, "separate application folders");
    assert!(std::fs::read_to_string(&path_b).unwrap() == app.get_text(&format!("/artifacts/{b}/CV.md")).await);

    // Re-running job A leaves run B's files alone, and the old run A still serves its own.
    let a2 = app.start_run(JOB).await;
    assert_eq!(app.wait_for_end(&a2).await, "completed");
    let again_b = app.get_text(&format!("/artifacts/{b}/dossier.txt")).await;
    assert_eq!(again_b, dossier_b);
    let again_a = app.get_text(&format!("/artifacts/{a}/dossier.txt")).await;
    assert!(again_a.contains(&format!("Run: {a}")));
}

#[actix_web::test]
async fn no_path_escapes_the_run_folder() {
    let app = spawn_app().await;
    let run = app.start_run(JOB).await;
    assert_eq!(app.wait_for_end(&run).await, "completed");
    std::fs::write(app.root.path().join("secret.txt"), "top secret").unwrap();
    for (path, expected) in [
        (format!("/artifacts/{run}/../../secret.txt"), 400),
        (format!("/artifacts/{run}/..%2F..%2Fsecret.txt"), 400),
        (format!("/artifacts/{run}/%2e%2e/%2e%2e/secret.txt"), 400),
        (format!("/artifacts/{run}//etc/passwd"), 400),
        (format!("/artifacts/{run}/%2Fetc%2Fpasswd"), 400),
        (format!("/artifacts/{run}/cv.md"), 400),
        ("/artifacts/..%2F..%2Fdata/CV.md".to_owned(), 400),
        ("/artifacts/0123456789abcdef0123456789abcdef/CV.md".to_owned(), 404),
    ] {
        assert_eq!(raw_get_status(&app.address, &path).await, expected, "{path}");
    }
    // A symlink planted in place of an artifact is not followed.
    let cv = app.data_dir.join("runs").join(&run).join("CV.md");
    std::fs::remove_file(&cv).unwrap();
    std::os::unix::fs::symlink(app.root.path().join("secret.txt"), &cv).unwrap();
    let res = app.get(&format!("/artifacts/{run}/CV.md")).await;
    assert_eq!(res.status(), 404);
    assert!(!res.text().await.unwrap().contains("top secret"));
    // And the status no longer lists a file that is not there.
    let status = app.get_json(&format!("/jobs/{run}/status")).await;
    assert!(status["artifacts"].get("cv_md_url").is_none(), "{status}");
    assert!(status["artifacts"].get("cv_docx_url").is_some());
}

#[actix_web::test]
async fn a_failed_run_lists_no_artifacts() {
    let thin = posting(&job_id(3), Some("Hi."));
    let app = spawn_app_with(|_| {}, &[thin]).await;
    let run = app.start_run(&job_id(3)).await;
    assert_eq!(app.wait_for_end(&run).await, "failed");
    let status = app.get_json(&format!("/jobs/{run}/status")).await;
    assert_eq!(status["artifacts"], json!({}));
    assert!(
        status["error"].as_str().unwrap().contains("job_description"),
        "{status}"
    );
    assert_eq!(app.get(&format!("/artifacts/{run}/CV.md")).await.status(), 404);
}
