//! The contract every `Store` backend must meet. Each case is a plain async function
//! taking a fresh store.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use job_runner::domain::{JobId, JobPosting, Run, RunId, RunStatus, StageName, StageProducer, StageStatus};
use job_runner::store::{
    AuditEntry, DynStore, JobUpdate, LeaseState, LlmCall, LogLine, QueueQuery, RunFilter, RunFinish, StoreError,
    TokenRecord,
};
use serde_json::json;

/// Generates one `#[tokio::test]` per contract case for a backend's `setup` function.
macro_rules! store_contract_tests {
    ($setup:path) => {
        store_contract_tests!(@cases $setup;
            jobs_are_upserted_read_and_updated_but_never_created,
            each_run_has_one_entry_in_the_jobs_run_list,
            a_runs_processing_tier_is_kept,
            alerts_are_kept_newest_first,
            runs_round_trip_and_list_with_filters_and_pages,
            claims_take_the_oldest_queued_run_once,
            concurrent_claims_never_hand_out_a_run_twice,
            only_the_lease_owner_finishes_renews_or_requeues,
            only_queued_runs_can_be_cancelled_there,
            recovery_requeues_expired_or_all_running_runs,
            stage_records_checkpoint_outputs,
            logs_append_in_batches_and_read_in_order,
            llm_calls_are_recorded_per_run,
            llm_calls_are_listed_since_a_time_across_runs,
            research_cache_returns_fresh_values_and_forgets_expired_ones,
            active_run_for_job_sees_queued_and_running_only,
            finished_runs_are_counted_by_outcome_since_a_time,
            the_queue_view_lists_runs_in_claim_order_and_by_outcome,
            a_failed_run_is_retried_at_the_back_unless_its_job_is_busy,
            dismissed_and_hidden_runs_leave_the_lists_but_keep_their_data,
            the_latest_completed_output_of_a_stage_is_found_across_runs_of_a_job,
            runners_heartbeat_and_the_silent_one_is_lost,
            the_global_cap_holds_until_a_run_ends,
            old_finished_runs_are_purged_with_their_data_and_nothing_else,
            run_tokens_are_kept_until_they_expire_and_revoked_once,
            the_audit_trail_reads_newest_first_and_is_trimmed_by_age_and_count,
            erasing_a_job_removes_its_runs_and_their_data_and_nothing_else,
            job_fields_are_set_without_touching_the_rest,
            console_sessions_stay_revoked_until_they_expire,
            jobs_are_found_by_company_or_title_newest_first
        );
    };
    (@cases $setup:path; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, _guard) = $setup().await;
                $crate::contract::$case(store).await;
            }
        )*
    };
}

pub fn job(n: u32) -> JobPosting {
    JobPosting {
        id: JobId::parse(&format!("{:024x}", n)).unwrap(),
        external_job_id: Some(format!("ext-{n}")),
        title: "Engineer".into(),
        company: "Acme".into(),
        job_description: "Build things. Requirements: Rust.".into(),
        job_url: Some("https://example.com/job".into()),
        source: None,
        scraped_job_posting: None,
    }
}

fn queued(n: u32) -> Run {
    Run::new_queued(job(n).id, None, Some("test".into()))
}

fn update(run: &RunId, status: RunStatus) -> JobUpdate {
    JobUpdate {
        run_id: run.clone(),
        pipeline_status: status,
        started_at: Some(Utc::now()),
        updated_at: Utc::now(),
        completed_at: None,
        failure: None,
        artifact_urls: None,
        results: None,
        run_entry: None,
    }
}

const LEASE: Duration = Duration::from_secs(60);

pub async fn alerts_are_kept_newest_first(store: DynStore) {
    assert!(store.recent_alerts(10).await.unwrap().is_empty());
    let now = Utc::now();
    for (i, level) in ["warning", "info", "critical"].into_iter().enumerate() {
        let alert = job_runner::store::AlertRecord {
            alert_id: format!("a{i}"),
            level: level.into(),
            source: "error_rate".into(),
            message: format!("alert {i}"),
            timestamp: now + chrono::Duration::seconds(i as i64),
            metadata: json!({"value": 40.0, "threshold": 10}),
        };
        store.record_alert(&alert).await.unwrap();
    }
    let recent = store.recent_alerts(2).await.unwrap();
    assert_eq!(
        recent.iter().map(|a| a.alert_id.as_str()).collect::<Vec<_>>(),
        ["a2", "a1"]
    );
    assert_eq!(recent[0].level, "critical");
    assert_eq!(recent[0].metadata["threshold"], 10);
}

pub async fn a_runs_processing_tier_is_kept(store: DynStore) {
    let mut run = queued(40);
    run.processing_tier = Some("quality".into());
    let plain = queued(41);
    store.insert_runs(&[run.clone(), plain.clone()]).await.unwrap();
    let stored = store.get_run(&run.run_id).await.unwrap().unwrap();
    assert_eq!(stored.processing_tier.as_deref(), Some("quality"));
    assert_eq!(
        store.get_run(&plain.run_id).await.unwrap().unwrap().processing_tier,
        None
    );
}

pub async fn each_run_has_one_entry_in_the_jobs_run_list(store: DynStore) {
    let j = job(2);
    store.upsert_job(&j).await.unwrap();
    let (a, b) = (RunId::generate(), RunId::generate());
    let entry = |run: &RunId, status: &str| {
        json!({"run_id": run.to_string(), "status": status, "cost_usd": 0.25})
            .as_object()
            .unwrap()
            .clone()
    };
    for (run, status) in [(&a, "running"), (&a, "completed"), (&b, "completed")] {
        let mut u = update(run, RunStatus::Completed);
        u.run_entry = Some(entry(run, status));
        store.update_job(&j.id, &u).await.unwrap();
    }
    let doc = store.get_job_document(&j.id).await.unwrap().unwrap();
    let runs = doc["pipeline_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0]["run_id"], a.to_string());
    assert_eq!(
        runs[0]["status"], "completed",
        "the later entry of a run replaces the earlier"
    );
    assert_eq!(runs[1]["run_id"], b.to_string());
    assert_eq!(runs[1]["cost_usd"], 0.25);
}

pub async fn jobs_are_upserted_read_and_updated_but_never_created(store: DynStore) {
    let j = job(1);
    assert!(store.upsert_job(&j).await.unwrap(), "first import is new");
    assert!(!store.upsert_job(&j).await.unwrap(), "second import updates");
    assert_eq!(store.get_job(&j.id).await.unwrap().unwrap(), j);

    let run = RunId::generate();
    let mut u = update(&run, RunStatus::Completed);
    u.artifact_urls = Some(BTreeMap::from([(
        "cv_md_url".to_owned(),
        "/artifacts/x/CV.md".to_owned(),
    )]));
    u.results = Some(
        json!({"fit_score": 80, "tier": "high", "dropped": null})
            .as_object()
            .unwrap()
            .clone(),
    );
    store.update_job(&j.id, &u).await.unwrap();
    let doc = store.get_job_document(&j.id).await.unwrap().unwrap();
    assert_eq!(doc["pipeline_status"], "completed");
    assert_eq!(doc["pipeline_run_id"], run.to_string());
    assert_eq!(doc["fit_score"], 80);
    assert_eq!(doc["artifact_urls"]["cv_md_url"], "/artifacts/x/CV.md");
    assert!(doc.get("dropped").is_none(), "null results are not written");
    for f in ["pipeline_started_at", "pipeline_updated_at", "updatedAt"] {
        assert!(doc.contains_key(f), "{f}");
    }
    assert_eq!(doc["title"], "Engineer", "input fields are kept");

    // Re-import keeps what the runner wrote.
    store.upsert_job(&j).await.unwrap();
    assert_eq!(store.get_job_document(&j.id).await.unwrap().unwrap()["fit_score"], 80);

    let missing = job(99).id;
    assert!(matches!(
        store.update_job(&missing, &u).await,
        Err(StoreError::JobNotFound(_))
    ));
    assert!(store.get_job_document(&missing).await.unwrap().is_none(), "no upsert");
}

pub async fn runs_round_trip_and_list_with_filters_and_pages(store: DynStore) {
    let runs: Vec<Run> = (1..=5).map(|i| queued(i % 2 + 1)).collect();
    store.insert_runs(&runs).await.unwrap();
    let got = store.get_run(&runs[0].run_id).await.unwrap().unwrap();
    assert_eq!(got.run_id, runs[0].run_id);
    assert_eq!(got.status, RunStatus::Queued);
    assert_eq!(got.source.as_deref(), Some("test"));
    assert!(store.get_run(&RunId::generate()).await.unwrap().is_none());

    let all = store
        .list_runs(&RunFilter {
            limit: 2,
            offset: 0,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total, 5);
    assert_eq!(all.runs.len(), 2);
    let page2 = store
        .list_runs(&RunFilter {
            limit: 2,
            offset: 4,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page2.runs.len(), 1);
    let by_job = store
        .list_runs(&RunFilter {
            job_id: Some(job(2).id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_job.total, 3);
    let running = store
        .list_runs(&RunFilter {
            status: Some(RunStatus::Running),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(running.total, 0);
    assert_eq!(store.count_runs(RunStatus::Queued).await.unwrap(), 5);

    // All or nothing: a batch with a duplicate id inserts nothing.
    let dup = vec![queued(3), runs[0].clone()];
    assert!(store.insert_runs(&dup).await.is_err());
    assert_eq!(store.count_runs(RunStatus::Queued).await.unwrap(), 5);
}

pub async fn claims_take_the_oldest_queued_run_once(store: DynStore) {
    let a = queued(1);
    std::thread::sleep(Duration::from_millis(2));
    let b = queued(2);
    store.insert_runs(&[b.clone(), a.clone()]).await.unwrap();
    let first = store.claim_next_run("me", LEASE).await.unwrap().unwrap();
    assert_eq!(first.run_id, a.run_id, "oldest first");
    assert_eq!(first.status, RunStatus::Running);
    assert_eq!(first.attempts, 1);
    assert_eq!(first.lease_owner.as_deref(), Some("me"));
    assert!(first.lease_expires_at.unwrap() > Utc::now());
    assert!(first.started_at.is_some());
    let second = store.claim_next_run("me", LEASE).await.unwrap().unwrap();
    assert_eq!(second.run_id, b.run_id);
    assert!(store.claim_next_run("me", LEASE).await.unwrap().is_none());
}

pub async fn concurrent_claims_never_hand_out_a_run_twice(store: DynStore) {
    let runs: Vec<Run> = (1..=5).map(queued).collect();
    store.insert_runs(&runs).await.unwrap();
    let claims = futures_util::future::join_all((0..12).map(|i| {
        let store = store.clone();
        async move { store.claim_next_run(&format!("worker-{i}"), LEASE).await.unwrap() }
    }))
    .await;
    let ids: Vec<RunId> = claims.into_iter().flatten().map(|r| r.run_id).collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 5, "no run claimed twice");
}

pub async fn only_the_lease_owner_finishes_renews_or_requeues(store: DynStore) {
    store.insert_runs(&[queued(1)]).await.unwrap();
    let run = store.claim_next_run("owner", LEASE).await.unwrap().unwrap();
    assert_eq!(
        store
            .renew_lease(&run.run_id, "owner", LEASE, Duration::from_millis(1000))
            .await
            .unwrap(),
        LeaseState::Held
    );
    assert_eq!(
        store
            .renew_lease(&run.run_id, "intruder", LEASE, Duration::from_millis(1000))
            .await
            .unwrap(),
        LeaseState::Lost
    );
    // A cancel requested from any instance reaches the owner with its next renewal.
    assert!(store.request_cancel(&run.run_id).await.unwrap());
    assert_eq!(
        store
            .renew_lease(&run.run_id, "owner", LEASE, Duration::from_millis(1000))
            .await
            .unwrap(),
        LeaseState::CancelRequested
    );
    let finish = RunFinish {
        status: RunStatus::Completed,
        error: None,
        artifacts: BTreeMap::from([("cv_md_url".to_owned(), "CV.md".to_owned())]),
        at: Utc::now(),
        cost_usd: Some(0.0123),
    };
    assert!(!store.finish_run(&run.run_id, "intruder", &finish).await.unwrap());
    assert!(!store.requeue_run(&run.run_id, "intruder").await.unwrap());
    assert!(store.finish_run(&run.run_id, "owner", &finish).await.unwrap());
    let done = store.get_run(&run.run_id).await.unwrap().unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.artifacts["cv_md_url"], "CV.md");
    assert_eq!(done.cost_usd, Some(0.0123), "runs carry their LLM cost");
    assert!(done.finished_at.is_some());
    assert!(done.lease_owner.is_none());
    assert!(
        !store.finish_run(&run.run_id, "owner", &finish).await.unwrap(),
        "finishing twice does nothing"
    );

    store.insert_runs(&[queued(2)]).await.unwrap();
    let run = store.claim_next_run("owner", LEASE).await.unwrap().unwrap();
    assert!(store.requeue_run(&run.run_id, "owner").await.unwrap());
    let again = store.claim_next_run("other", LEASE).await.unwrap().unwrap();
    assert_eq!(again.run_id, run.run_id);
    assert_eq!(again.attempts, 2);
    assert_eq!(
        store
            .renew_lease(&again.run_id, "other", LEASE, Duration::from_millis(1000))
            .await
            .unwrap(),
        LeaseState::Held,
        "a new claim clears old cancel flags"
    );
    assert_eq!(again.started_at, run.started_at, "first start time is kept");
    // Each renewal counts execution time, across claims: the timeout covers the whole run.
    let counted = store.get_run(&again.run_id).await.unwrap().unwrap().elapsed_ms;
    assert_eq!(counted, 1000, "one renewal by the first owner");
    store
        .renew_lease(&again.run_id, "other", LEASE, Duration::from_millis(1000))
        .await
        .unwrap();
    assert_eq!(store.get_run(&again.run_id).await.unwrap().unwrap().elapsed_ms, 2000);
}

pub async fn only_queued_runs_can_be_cancelled_there(store: DynStore) {
    let (a, b) = (queued(1), queued(2));
    store.insert_runs(&[a.clone(), b.clone()]).await.unwrap();
    assert!(store.cancel_queued_run(&b.run_id, "by test").await.unwrap());
    let claimed = store.claim_next_run("me", LEASE).await.unwrap().unwrap();
    assert_eq!(claimed.run_id, a.run_id, "a cancelled run is never claimed");
    assert!(!store.cancel_queued_run(&a.run_id, "too late").await.unwrap());
    let cancelled = store.get_run(&b.run_id).await.unwrap().unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert_eq!(cancelled.error.as_deref(), Some("by test"));
    assert!(cancelled.finished_at.is_some());
}

pub async fn recovery_requeues_expired_or_all_running_runs(store: DynStore) {
    store.insert_runs(&[queued(1), queued(2)]).await.unwrap();
    let short = store
        .claim_next_run("dead", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    let long = store.claim_next_run("alive", LEASE).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let recovered = store.recover_runs(Utc::now(), false).await.unwrap();
    assert_eq!(recovered, vec![short.run_id.clone()], "only the expired lease");
    assert_eq!(
        store.get_run(&long.run_id).await.unwrap().unwrap().status,
        RunStatus::Running
    );
    let all = store.recover_runs(Utc::now(), true).await.unwrap();
    assert_eq!(all, vec![long.run_id.clone()]);
    assert_eq!(store.count_runs(RunStatus::Queued).await.unwrap(), 2);
}

pub async fn stage_records_checkpoint_outputs(store: DynStore) {
    let run = RunId::generate();
    assert!(store.load_stages(&run).await.unwrap().is_empty());
    store
        .stage_started(&run, StageName::Research, Utc::now())
        .await
        .unwrap();
    store
        .stage_started(&run, StageName::PainPoints, Utc::now())
        .await
        .unwrap();
    store
        .stage_started(&run, StageName::PainPoints, Utc::now())
        .await
        .unwrap();
    let output = json!({"pain_points": ["a"]});
    store
        .stage_completed(
            &run,
            StageName::PainPoints,
            &job_runner::domain::outputs::Provenance::produced(StageProducer::Llm, Some("openai/gpt-4o-mini".into())),
            &output,
            Utc::now(),
            Duration::from_millis(12),
        )
        .await
        .unwrap();
    store
        .stage_failed(&run, StageName::Research, "boom", Utc::now())
        .await
        .unwrap();
    let recs = store.load_stages(&run).await.unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].stage, StageName::PainPoints, "in pipeline order");
    assert_eq!(recs[0].status, StageStatus::Completed);
    assert_eq!(recs[0].attempts, 2);
    assert_eq!(recs[0].output.as_ref().unwrap(), &output);
    assert_eq!(recs[0].duration_ms, Some(12));
    assert_eq!(recs[0].model.as_deref(), Some("openai/gpt-4o-mini"));
    assert_eq!(recs[0].producer, Some(StageProducer::Llm));
    assert_eq!(recs[1].status, StageStatus::Failed);
    assert_eq!(recs[1].error.as_deref(), Some("boom"));
}

pub async fn logs_append_in_batches_and_read_in_order(store: DynStore) {
    let run = RunId::generate();
    let other = RunId::generate();
    let line = |run: &RunId, seq: u64| LogLine {
        run_id: run.clone(),
        seq,
        ts: Utc::now(),
        level: job_runner::runlog::LogLevel::Info,
        stage: Some(job_runner::domain::StageName::Cv),
        message: format!("line {seq}"),
    };
    assert_eq!(store.last_log_seq(&run).await.unwrap(), 0);
    store
        .append_logs(&[line(&run, 1), line(&run, 2), line(&other, 1)])
        .await
        .unwrap();
    store
        .append_logs(&[line(&run, 2), line(&run, 3), line(&run, 1005)])
        .await
        .unwrap();
    let all = store.read_logs(&run, 0, 100).await.unwrap();
    assert_eq!(
        all.iter().map(|l| l.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 1005],
        "duplicates ignored, gaps kept"
    );
    assert_eq!(all[0].message, "line 1");
    assert_eq!(all[0].stage.map(|s| s.as_str()), Some("cv"));
    let after = store.read_logs(&run, 2, 1).await.unwrap();
    assert_eq!(after.iter().map(|l| l.seq).collect::<Vec<_>>(), vec![3]);
    assert_eq!(store.last_log_seq(&run).await.unwrap(), 1005);
    assert_eq!(store.read_logs(&other, 0, 10).await.unwrap().len(), 1);
}

pub async fn llm_calls_are_recorded_per_run(store: DynStore) {
    let run = RunId::generate();
    assert!(store.llm_calls(&run).await.unwrap().is_empty());
    let call = LlmCall {
        run_id: run.clone(),
        stage: job_runner::domain::StageName::Cv,
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        input_tokens: 1200,
        output_tokens: 300,
        cost_usd: None,
        latency_ms: 850,
        outcome: job_runner::store::CallOutcome::InvalidOutput,
        at: Utc::now(),
        prompt: "cv".into(),
        turn: 1,
        detail: Some("heading \"## Awards\" names \"Turing\", which the master CV does not contain".into()),
    };
    store.record_llm_call(&call).await.unwrap();
    store
        .record_llm_call(&LlmCall {
            cost_usd: Some(0.0012),
            outcome: job_runner::store::CallOutcome::Ok,
            turn: 2,
            detail: None,
            ..call.clone()
        })
        .await
        .unwrap();
    let calls = store.llm_calls(&run).await.unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].cost_usd, None, "unknown cost stays unknown");
    assert_eq!(calls[1].cost_usd, Some(0.0012));
    assert_eq!(calls[0].input_tokens, 1200);
    assert_eq!(
        (&calls[0].prompt, calls[0].turn, &calls[0].detail, calls[0].outcome),
        (&call.prompt, call.turn, &call.detail, call.outcome),
        "prompt, turn and the rejection's reasons are kept"
    );
    assert_eq!((calls[1].turn, calls[1].detail.as_deref()), (2, None));
}

pub async fn llm_calls_are_listed_since_a_time_across_runs(store: DynStore) {
    let (a, b) = (RunId::generate(), RunId::generate());
    let now = Utc::now();
    let call = |run: &RunId, at| LlmCall {
        run_id: run.clone(),
        stage: job_runner::domain::StageName::PainPoints,
        provider: "anthropic".into(),
        model: "claude-3-5-haiku-latest".into(),
        input_tokens: 10,
        output_tokens: 5,
        cost_usd: Some(0.5),
        latency_ms: 1,
        outcome: job_runner::store::CallOutcome::Ok,
        at,
        prompt: "pain_points".into(),
        turn: 1,
        detail: None,
    };
    store
        .record_llm_call(&call(&a, now - chrono::Duration::days(3)))
        .await
        .unwrap();
    store.record_llm_call(&call(&a, now)).await.unwrap();
    store
        .record_llm_call(&call(&b, now + chrono::Duration::seconds(1)))
        .await
        .unwrap();
    let since: Vec<_> = store
        .llm_calls_since(now - chrono::Duration::days(1))
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.run_id == a || c.run_id == b)
        .collect();
    assert_eq!(since.len(), 2, "the call three days ago is left out");
    assert_eq!((&since[0].run_id, &since[1].run_id), (&a, &b), "oldest first");
    assert_eq!(since[1].model, "claude-3-5-haiku-latest");
}

pub async fn research_cache_returns_fresh_values_and_forgets_expired_ones(store: DynStore) {
    let now = Utc::now();
    let key = format!("firecrawl:scrape:https://example.com/{}", RunId::generate());
    assert_eq!(store.cache_get(&key, now).await.unwrap(), None);
    let page = serde_json::json!({"markdown": "# Acme\nWe raised $10M.", "url": "https://example.com"});
    store
        .cache_put(&key, &page, now + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(store.cache_get(&key, now).await.unwrap(), Some(page.clone()));
    assert_eq!(
        store.cache_get(&key, now + chrono::Duration::hours(2)).await.unwrap(),
        None,
        "expired"
    );
    let newer = serde_json::json!({"markdown": "updated"});
    store
        .cache_put(&key, &newer, now + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(store.cache_get(&key, now).await.unwrap(), Some(newer), "replaced");
}

pub async fn active_run_for_job_sees_queued_and_running_only(store: DynStore) {
    let j = job(1).id;
    assert!(store.active_run_for_job(&j).await.unwrap().is_none());
    let r = queued(1);
    store.insert_runs(std::slice::from_ref(&r)).await.unwrap();
    assert_eq!(store.active_run_for_job(&j).await.unwrap().unwrap().run_id, r.run_id);
    let claimed = store.claim_next_run("me", LEASE).await.unwrap().unwrap();
    assert_eq!(
        store.active_run_for_job(&j).await.unwrap().unwrap().run_id,
        claimed.run_id
    );
    let finish = RunFinish {
        status: RunStatus::Failed,
        error: Some("x".into()),
        artifacts: BTreeMap::new(),
        at: Utc::now(),
        cost_usd: None,
    };
    store.finish_run(&claimed.run_id, "me", &finish).await.unwrap();
    assert!(store.active_run_for_job(&j).await.unwrap().is_none());
}

pub async fn finished_runs_are_counted_by_outcome_since_a_time(store: DynStore) {
    let before = Utc::now() - chrono::Duration::seconds(1);
    store.insert_runs(&[queued(1), queued(2), queued(3)]).await.unwrap();
    for status in [RunStatus::Completed, RunStatus::Failed] {
        let run = store.claim_next_run("me", LEASE).await.unwrap().unwrap();
        let finish = RunFinish {
            status,
            error: None,
            artifacts: BTreeMap::new(),
            at: Utc::now(),
            cost_usd: None,
        };
        assert!(store.finish_run(&run.run_id, "me", &finish).await.unwrap());
    }
    let last = store.claim_next_run("me", LEASE).await.unwrap().unwrap();
    store.requeue_run(&last.run_id, "me").await.unwrap();
    assert!(store.cancel_queued_run(&last.run_id, "x").await.unwrap());
    let counts = store.finished_since(before).await.unwrap();
    assert_eq!((counts.completed, counts.failed, counts.cancelled), (1, 1, 1));
    let later = store
        .finished_since(Utc::now() + chrono::Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!((later.completed, later.failed, later.cancelled), (0, 0, 0));
}

const VIEW: QueueQuery = QueueQuery {
    pending: 10,
    running: 10,
    failed: 10,
    history: 10,
};

/// Claims the next run as `owner` and ends it with `status` at `at`.
async fn claim_and_finish(store: &DynStore, status: RunStatus, at: chrono::DateTime<Utc>) -> Run {
    let run = store.claim_next_run("owner", LEASE).await.unwrap().unwrap();
    let finish = RunFinish {
        status,
        error: (status != RunStatus::Completed).then(|| format!("{status} by test")),
        artifacts: BTreeMap::new(),
        at,
        cost_usd: None,
    };
    assert!(store.finish_run(&run.run_id, "owner", &finish).await.unwrap());
    store.get_run(&run.run_id).await.unwrap().unwrap()
}

/// Inserts queued runs for jobs `ns`, one millisecond apart (the claim order).
pub async fn the_global_cap_holds_until_a_run_ends(store: DynStore) {
    queue_runs(&store, &[1, 2, 3, 4]).await;
    let first = store.claim_next_run_within("a", LEASE, 2).await.unwrap().unwrap();
    let second = store.claim_next_run_within("b", LEASE, 2).await.unwrap().unwrap();
    assert_ne!(first.run_id, second.run_id);
    assert!(
        store.claim_next_run_within("c", LEASE, 2).await.unwrap().is_none(),
        "two running: the cap of 2 is reached"
    );
    let done = RunFinish {
        status: RunStatus::Completed,
        error: None,
        artifacts: BTreeMap::new(),
        at: Utc::now(),
        cost_usd: None,
    };
    assert!(store.finish_run(&first.run_id, "a", &done).await.unwrap());
    let third = store.claim_next_run_within("c", LEASE, 2).await.unwrap().unwrap();
    assert!(store.requeue_run(&second.run_id, "b").await.unwrap());
    // Requeued: its slot is free again; no cap claims everything left.
    assert!(store.claim_next_run_within("d", LEASE, 2).await.unwrap().is_some());
    assert!(store.claim_next_run_within("d", LEASE, 2).await.unwrap().is_none());
    assert!(
        store.claim_next_run_within("e", LEASE, 0).await.unwrap().is_some(),
        "0 = no cap"
    );
    assert_ne!(third.run_id, first.run_id);
}

pub async fn old_finished_runs_are_purged_with_their_data_and_nothing_else(store: DynStore) {
    queue_runs(&store, &[1, 2, 3, 4, 5]).await;
    let long_ago = Utc::now() - chrono::Duration::days(40);
    let old_done = claim_and_finish(&store, RunStatus::Completed, long_ago).await;
    let old_failed = claim_and_finish(&store, RunStatus::Failed, long_ago).await;
    let recent = claim_and_finish(&store, RunStatus::Completed, Utc::now()).await;
    let running = store.claim_next_run("owner", LEASE).await.unwrap().unwrap();
    for run in [&old_done, &recent] {
        add_run_data(&store, &run.run_id).await;
    }
    let cutoff = Utc::now() - chrono::Duration::days(30);
    let mut purged = store.purge_finished_runs(cutoff, 1).await.unwrap();
    assert_eq!(purged.len(), 1, "at most the limit per call");
    purged.extend(store.purge_finished_runs(cutoff, 100).await.unwrap());
    purged.sort();
    let mut expected = vec![old_done.run_id.clone(), old_failed.run_id.clone()];
    expected.sort();
    assert_eq!(purged, expected);
    assert!(store.purge_finished_runs(cutoff, 100).await.unwrap().is_empty());
    // Everything of the purged run is gone.
    assert!(store.get_run(&old_done.run_id).await.unwrap().is_none());
    assert!(store.read_logs(&old_done.run_id, 0, 10).await.unwrap().is_empty());
    assert!(store.load_stages(&old_done.run_id).await.unwrap().is_empty());
    assert!(store.llm_calls(&old_done.run_id).await.unwrap().is_empty());
    // The recent, running and queued runs and their data stay.
    assert!(store.get_run(&recent.run_id).await.unwrap().is_some());
    assert_eq!(store.read_logs(&recent.run_id, 0, 10).await.unwrap().len(), 1);
    assert_eq!(store.load_stages(&recent.run_id).await.unwrap().len(), 1);
    assert_eq!(store.llm_calls(&recent.run_id).await.unwrap().len(), 1);
    assert!(store.get_run(&running.run_id).await.unwrap().is_some());
    assert_eq!(store.count_runs(RunStatus::Queued).await.unwrap(), 1);
}

/// A log line, a checkpoint and an LLM call record for `run`.
async fn add_run_data(store: &DynStore, run: &RunId) {
    use job_runner::domain::outputs::Provenance;
    store
        .append_logs(&[LogLine {
            run_id: run.clone(),
            seq: 1,
            ts: Utc::now(),
            level: job_runner::runlog::LogLevel::Info,
            stage: None,
            message: "a line".into(),
        }])
        .await
        .unwrap();
    store
        .stage_completed(
            run,
            StageName::Cv,
            &Provenance::produced(StageProducer::Offline, None),
            &json!({"cv_text": "x"}),
            Utc::now(),
            Duration::from_millis(1),
        )
        .await
        .unwrap();
    store
        .record_llm_call(&LlmCall {
            run_id: run.clone(),
            stage: StageName::Cv,
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            input_tokens: 1,
            output_tokens: 1,
            cost_usd: Some(0.001),
            latency_ms: 1,
            outcome: job_runner::store::CallOutcome::Ok,
            at: Utc::now(),
            prompt: "cv".into(),
            turn: 1,
            detail: None,
        })
        .await
        .unwrap();
}

fn token(jti: &str, run: &RunId, expires_in: chrono::Duration) -> TokenRecord {
    let now = Utc::now();
    TokenRecord {
        jti: jti.into(),
        run_id: run.clone(),
        issued_at: now,
        expires_at: now + expires_in,
        revoked_at: None,
        issued_by: "api".into(),
    }
}

pub async fn run_tokens_are_kept_until_they_expire_and_revoked_once(store: DynStore) {
    let run = queued(1).run_id;
    let live = token("live-token", &run, chrono::Duration::hours(1));
    let gone = token("expired-token", &run, chrono::Duration::seconds(-5));
    store.record_tokens(&[live.clone(), gone.clone()]).await.unwrap();
    store.record_tokens(&[]).await.unwrap();
    let read = store.get_token("live-token").await.unwrap().unwrap();
    assert_eq!(
        (read.jti.as_str(), &read.run_id, read.revoked_at),
        ("live-token", &run, None)
    );
    assert_eq!(read.expires_at.timestamp(), live.expires_at.timestamp());
    assert!(store.get_token("never-issued").await.unwrap().is_none());
    // Revocation marks it once; a second revocation keeps the first time.
    let first = store.revoke_token("live-token", Utc::now()).await.unwrap().unwrap();
    let at = first.revoked_at.expect("revoked");
    let again = store
        .revoke_token("live-token", Utc::now() + chrono::Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.revoked_at.unwrap().timestamp(), at.timestamp());
    assert!(store.revoke_token("never-issued", Utc::now()).await.unwrap().is_none());
    // Expired records go; the revoked live one stays until it expires.
    assert_eq!(store.purge_expired_tokens(Utc::now()).await.unwrap(), 1);
    assert!(store.get_token("expired-token").await.unwrap().is_none());
    assert!(store
        .get_token("live-token")
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
}

pub async fn the_audit_trail_reads_newest_first_and_is_trimmed_by_age_and_count(store: DynStore) {
    let entry = |n: i64, days_ago: i64| AuditEntry {
        at: Utc::now() - chrono::Duration::days(days_ago) + chrono::Duration::milliseconds(n),
        request_id: format!("req-{n}"),
        actor: "secret:0011223344556677".into(),
        client: "127.0.0.1".into(),
        method: "POST".into(),
        path: format!("/jobs/{n}/cancel"),
        route: "/jobs/{run_id}/cancel".into(),
        status: if n % 2 == 0 { 200 } else { 409 },
        outcome: if n % 2 == 0 { "ok" } else { "refused" }.into(),
        code: (n % 2 == 1).then(|| "RUN_ALREADY_FINISHED".to_owned()),
    };
    // Two old entries, then five recent ones in order.
    for (n, days) in [(0, 100), (1, 95), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0)] {
        store.append_audit(&entry(n, days)).await.unwrap();
    }
    let all = store.recent_audit(100).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["req-6", "req-5", "req-4", "req-3", "req-2", "req-1", "req-0"]);
    assert_eq!(all[1].code.as_deref(), Some("RUN_ALREADY_FINISHED"));
    assert_eq!(all[0].code, None);
    assert_eq!((all[1].status, all[1].outcome.as_str()), (409, "refused"));
    assert_eq!(store.recent_audit(2).await.unwrap().len(), 2);
    // Older than 90 days: the two old ones; then at most 3 kept: the newest three.
    let removed = store
        .purge_audit(Utc::now() - chrono::Duration::days(90), 3)
        .await
        .unwrap();
    assert_eq!(removed, 4);
    let left: Vec<String> = store
        .recent_audit(100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.request_id)
        .collect();
    assert_eq!(left, ["req-6", "req-5", "req-4"]);
}

pub async fn erasing_a_job_removes_its_runs_and_their_data_and_nothing_else(store: DynStore) {
    store.upsert_job(&job(1)).await.unwrap();
    store.upsert_job(&job(2)).await.unwrap();
    // Two finished runs of job 1, one of job 2.
    let mut mine = Vec::new();
    for n in [1, 2, 1] {
        store.insert_runs(&[queued(n)]).await.unwrap();
        let run = claim_and_finish(&store, RunStatus::Completed, Utc::now()).await;
        add_run_data(&store, &run.run_id).await;
        store
            .record_tokens(&[token(
                &format!("t-{}", run.run_id),
                &run.run_id,
                chrono::Duration::hours(1),
            )])
            .await
            .unwrap();
        if n == 1 {
            mine.push(run.run_id);
        }
    }
    let others = store
        .list_runs(&RunFilter {
            job_id: Some(job(2).id),
            limit: 10,
            ..RunFilter::default()
        })
        .await
        .unwrap()
        .runs;
    assert_eq!(others.len(), 1);
    let other = others[0].run_id.clone();
    // A queued run of the job blocks the erasure, and nothing is removed.
    store.insert_runs(&[queued(1)]).await.unwrap();
    assert!(matches!(
        store.purge_job(&job(1).id, true).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.get_run(&mine[0]).await.unwrap().is_some());
    let pending = store.claim_next_run("owner", LEASE).await.unwrap().unwrap();
    assert_eq!(pending.job_id, job(1).id);
    store
        .finish_run(
            &pending.run_id,
            "owner",
            &RunFinish {
                status: RunStatus::Cancelled,
                error: Some("cancelled by test".into()),
                artifacts: BTreeMap::new(),
                at: Utc::now(),
                cost_usd: None,
            },
        )
        .await
        .unwrap();
    mine.push(pending.run_id);
    // Without the job document first.
    let purged = store.purge_job(&job(1).id, false).await.unwrap();
    let mut got = purged.runs.clone();
    got.sort();
    mine.sort();
    assert_eq!(got, mine);
    assert_eq!(
        (purged.log_lines, purged.stages, purged.llm_calls, purged.tokens),
        (2, 2, 2, 2)
    );
    assert!(!purged.job_document);
    for run in &mine {
        assert!(store.get_run(run).await.unwrap().is_none());
        assert!(store.read_logs(run, 0, 10).await.unwrap().is_empty());
        assert!(store.load_stages(run).await.unwrap().is_empty());
        assert!(store.llm_calls(run).await.unwrap().is_empty());
    }
    assert!(store.get_token(&format!("t-{}", mine[0])).await.unwrap().is_none());
    assert!(
        store.get_job(&job(1).id).await.unwrap().is_some(),
        "the job document stays"
    );
    // The other job's run and its data are untouched.
    assert!(store.get_run(&other).await.unwrap().is_some());
    assert_eq!(store.read_logs(&other, 0, 10).await.unwrap().len(), 1);
    assert_eq!(store.load_stages(&other).await.unwrap().len(), 1);
    assert_eq!(store.llm_calls(&other).await.unwrap().len(), 1);
    assert!(store.get_token(&format!("t-{other}")).await.unwrap().is_some());
    // Then the job document too.
    let again = store.purge_job(&job(1).id, true).await.unwrap();
    assert!(again.runs.is_empty() && again.job_document);
    assert!(store.get_job(&job(1).id).await.unwrap().is_none());
    assert!(store.get_job(&job(2).id).await.unwrap().is_some());
}

pub async fn job_fields_are_set_without_touching_the_rest(store: DynStore) {
    use job_runner::store::FieldValue;
    store.upsert_job(&job(1)).await.unwrap();
    let at = Utc::now();
    let fields = vec![
        (
            "drive_folder_url".to_owned(),
            FieldValue::Text("https://drive.google.com/drive/folders/x".into()),
        ),
        ("gdrive_uploaded_at".to_owned(), FieldValue::Time(at)),
        (
            "remote_publishing".to_owned(),
            FieldValue::Json(json!({"status": "published"})),
        ),
    ];
    store.set_job_fields(&job(1).id, &fields).await.unwrap();
    let doc = store.get_job_document(&job(1).id).await.unwrap().unwrap();
    assert_eq!(doc["drive_folder_url"], "https://drive.google.com/drive/folders/x");
    assert_eq!(doc["remote_publishing"]["status"], "published");
    assert!(doc["gdrive_uploaded_at"]
        .as_str()
        .unwrap_or_default()
        .starts_with(&at.format("%Y-%m-%d").to_string()));
    assert_eq!(doc["title"], "Engineer", "the rest of the document stays");
    assert!(matches!(
        store.set_job_fields(&job(2).id, &fields).await,
        Err(StoreError::JobNotFound(_))
    ));
}

async fn queue_runs(store: &DynStore, ns: &[u32]) -> Vec<Run> {
    let mut runs = Vec::new();
    for &n in ns {
        let mut run = queued(n);
        run.job_title = Some(format!("Engineer {n}"));
        run.company = Some("Acme".into());
        store.insert_runs(std::slice::from_ref(&run)).await.unwrap();
        runs.push(store.get_run(&run.run_id).await.unwrap().unwrap());
        std::thread::sleep(Duration::from_millis(2));
    }
    runs
}

pub async fn the_queue_view_lists_runs_in_claim_order_and_by_outcome(store: DynStore) {
    let runs = queue_runs(&store, &[1, 2, 3, 4, 5, 6]).await;
    let stored = &runs[0];
    assert!(stored.queue_id.as_ref().starts_with("q_"));
    assert_eq!(stored.operation, "batch-pipeline");
    assert_eq!(
        (stored.job_title.as_deref(), stored.company.as_deref()),
        (Some("Engineer 1"), Some("Acme"))
    );
    assert_eq!(
        store.run_by_queue_id(&stored.queue_id).await.unwrap().unwrap().run_id,
        stored.run_id
    );
    let unknown = job_runner::domain::QueueId::parse("q_000000000000").unwrap();
    assert!(store.run_by_queue_id(&unknown).await.unwrap().is_none());
    let t0 = Utc::now();
    // 1 completes, 2 fails, 3 is cancelled (later than 1 and 2), 4 runs, 5 and 6 wait.
    claim_and_finish(&store, RunStatus::Completed, t0).await;
    claim_and_finish(&store, RunStatus::Failed, t0 + chrono::Duration::seconds(1)).await;
    let running = store.claim_next_run("owner", LEASE).await.unwrap().unwrap();
    assert!(store.cancel_queued_run(&runs[5].run_id, "by test").await.unwrap());
    assert_eq!(store.queued_ahead(&runs[3]).await.unwrap(), 0, "next to run");
    assert_eq!(store.queued_ahead(&runs[4]).await.unwrap(), 1);

    let view = store.queue_view(&VIEW).await.unwrap();
    let ids = |list: &[Run]| list.iter().map(|r| r.job_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&view.pending), [job(4).id, job(5).id], "oldest first");
    assert_eq!(ids(&view.running), std::slice::from_ref(&running.job_id));
    assert_eq!(ids(&view.failed), [job(2).id]);
    assert_eq!(ids(&view.history), [job(6).id, job(1).id], "newest first");
    assert_eq!((view.total_pending, view.total_running, view.total_failed), (2, 1, 1));
    let small = store
        .queue_view(&QueueQuery {
            pending: 1,
            history: 1,
            ..VIEW
        })
        .await
        .unwrap();
    assert_eq!((small.pending.len(), small.history.len()), (1, 1));
    assert_eq!(small.total_pending, 2, "totals count beyond the list");
}

pub async fn a_failed_run_is_retried_at_the_back_unless_its_job_is_busy(store: DynStore) {
    use job_runner::domain::outputs::Provenance;
    use job_runner::domain::QueueId;
    let runs = queue_runs(&store, &[1]).await;
    let failed = claim_and_finish(&store, RunStatus::Failed, Utc::now()).await;
    assert_eq!(failed.run_id, runs[0].run_id);
    // What the failed run completed before failing (its publisher too, which a retry runs again).
    for stage in [StageName::Extract, StageName::PainPoints, StageName::Publisher] {
        store
            .stage_completed(
                &failed.run_id,
                stage,
                &Provenance::produced(StageProducer::Offline, None),
                &serde_json::json!({"stage": stage.as_str()}),
                Utc::now(),
                Duration::from_millis(5),
            )
            .await
            .unwrap();
    }
    let later = queue_runs(&store, &[2]).await;
    // Another active run of the same job blocks the retry.
    let busy = queue_runs(&store, &[1]).await;
    let at = Utc::now();
    assert!(store
        .retry_failed_run(&failed.run_id, &failed.retry(at), &QueueId::generate(), at)
        .await
        .unwrap()
        .is_none());
    assert!(store.cancel_queued_run(&busy[0].run_id, "by test").await.unwrap());
    let at = Utc::now();
    let retried = store
        .retry_failed_run(&failed.run_id, &failed.retry(at), &QueueId::generate(), at)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(retried.run_id, failed.run_id, "a new run");
    assert_eq!(retried.status, RunStatus::Queued);
    assert_eq!((retried.retry_count, retried.attempts), (1, 0));
    assert!(retried.error.is_none() && retried.finished_at.is_none());
    assert_eq!(retried.queue_id, failed.queue_id, "the same queue item");
    assert_eq!(
        (&retried.job_id, &retried.operation),
        (&failed.job_id, &failed.operation)
    );
    assert_eq!(store.get_run(&retried.run_id).await.unwrap().unwrap(), retried);
    assert_eq!(
        store.run_by_queue_id(&failed.queue_id).await.unwrap().unwrap().run_id,
        retried.run_id,
        "the queue item is the retry now"
    );
    // The failed run keeps its record and leaves the queue view.
    let old = store.get_run(&failed.run_id).await.unwrap().unwrap();
    assert_eq!(old.status, RunStatus::Failed);
    assert_ne!(old.queue_id, failed.queue_id);
    let view = store.queue_view(&VIEW).await.unwrap();
    assert!(view
        .failed
        .iter()
        .chain(&view.history)
        .all(|r| r.run_id != failed.run_id));
    // Its completed stages are the retry's, reused; the publisher runs again.
    let stages = store.load_stages(&retried.run_id).await.unwrap();
    let names: Vec<StageName> = stages.iter().map(|r| r.stage).collect();
    assert_eq!(names, [StageName::Extract, StageName::PainPoints]);
    for r in &stages {
        assert_eq!(r.status, StageStatus::Completed);
        assert_eq!(r.producer, Some(StageProducer::Reused));
        assert_eq!(r.source_run.as_ref(), Some(&failed.run_id));
        assert_eq!(r.output, Some(serde_json::json!({"stage": r.stage.as_str()})));
    }
    assert!(retried.queued_at > later[0].queued_at);
    assert_eq!(
        store.queued_ahead(&retried).await.unwrap(),
        1,
        "at the back of the queue"
    );
    assert_eq!(
        store.claim_next_run("owner", LEASE).await.unwrap().unwrap().run_id,
        later[0].run_id
    );
    let again = store.claim_next_run("owner", LEASE).await.unwrap().unwrap();
    assert_eq!((again.run_id.clone(), again.attempts), (retried.run_id.clone(), 1));
    let at = Utc::now();
    assert!(
        store
            .retry_failed_run(&failed.run_id, &failed.retry(at), &QueueId::generate(), at)
            .await
            .unwrap()
            .is_none(),
        "a run is retried once"
    );
}

pub async fn dismissed_and_hidden_runs_leave_the_lists_but_keep_their_data(store: DynStore) {
    queue_runs(&store, &[1, 2, 3, 4]).await;
    let old = Utc::now() - chrono::Duration::hours(2);
    let completed = claim_and_finish(&store, RunStatus::Completed, old).await;
    let failed = claim_and_finish(&store, RunStatus::Failed, Utc::now()).await;
    let recent = claim_and_finish(&store, RunStatus::Completed, Utc::now()).await;
    assert!(!store.dismiss_failed_run(&completed.run_id, Utc::now()).await.unwrap());
    assert!(store.dismiss_failed_run(&failed.run_id, Utc::now()).await.unwrap());
    assert!(
        !store.dismiss_failed_run(&failed.run_id, Utc::now()).await.unwrap(),
        "once"
    );
    let view = store.queue_view(&VIEW).await.unwrap();
    assert!(view.failed.is_empty());
    assert_eq!(view.total_failed, 0);
    assert_eq!(view.history.len(), 3);
    assert!(view
        .history
        .iter()
        .any(|r| r.run_id == failed.run_id && r.dismissed_at.is_some()));

    // Hide what ended more than an hour ago: only the old completed run.
    let hidden = store
        .hide_finished_runs(Utc::now() - chrono::Duration::hours(1), Utc::now())
        .await
        .unwrap();
    assert_eq!((hidden.completed, hidden.failed, hidden.cancelled), (1, 0, 0));
    let view = store.queue_view(&VIEW).await.unwrap();
    assert_eq!(view.history.len(), 2);
    assert!(view.history.iter().all(|r| r.run_id != completed.run_id));
    // Everything finished: the queued run stays.
    let hidden = store
        .hide_finished_runs(Utc::now() + chrono::Duration::seconds(1), Utc::now())
        .await
        .unwrap();
    assert_eq!((hidden.completed, hidden.failed, hidden.cancelled), (1, 1, 0));
    let view = store.queue_view(&VIEW).await.unwrap();
    assert!(view.history.is_empty() && view.failed.is_empty());
    assert_eq!(view.pending.len(), 1);
    for run in [&completed, &failed, &recent] {
        let kept = store.get_run(&run.run_id).await.unwrap().unwrap();
        assert!(kept.hidden_at.is_some(), "hidden, not deleted");
        assert_eq!(kept.status, run.status);
    }
    // A retry of a hidden failed run is a new run in view.
    let at = Utc::now();
    let retried = store
        .retry_failed_run(
            &failed.run_id,
            &failed.retry(at),
            &job_runner::domain::QueueId::generate(),
            at,
        )
        .await
        .unwrap()
        .unwrap();
    assert!(retried.hidden_at.is_none() && retried.dismissed_at.is_none());
    let view = store.queue_view(&VIEW).await.unwrap();
    assert!(view.pending.iter().any(|r| r.run_id == retried.run_id));
}

pub async fn the_latest_completed_output_of_a_stage_is_found_across_runs_of_a_job(store: DynStore) {
    use job_runner::domain::outputs::Provenance;
    let runs = queue_runs(&store, &[1, 1, 2]).await;
    let (old, new, other_job) = (&runs[0], &runs[1], &runs[2]);
    let done = |run: &Run, out: serde_json::Value, at| {
        let store = store.clone();
        let run = run.run_id.clone();
        async move {
            store
                .stage_completed(
                    &run,
                    StageName::Cv,
                    &Provenance::produced(StageProducer::Llm, Some("m".into())),
                    &out,
                    at,
                    Duration::from_millis(5),
                )
                .await
                .unwrap();
        }
    };
    let t0 = Utc::now() - chrono::Duration::minutes(10);
    done(old, json!({"cv_text": "old"}), t0).await;
    done(new, json!({"cv_text": "new"}), t0 + chrono::Duration::minutes(1)).await;
    done(
        other_job,
        json!({"cv_text": "other job"}),
        t0 + chrono::Duration::minutes(2),
    )
    .await;
    store
        .stage_failed(&old.run_id, StageName::FitScore, "boom", Utc::now())
        .await
        .unwrap();
    let me = RunId::generate();
    let (run, rec) = store
        .latest_stage_output(&job(1).id, StageName::Cv, &me)
        .await
        .unwrap()
        .expect("an earlier run of the job has one");
    assert_eq!(run, new.run_id, "the newest of this job's runs, not another job's");
    assert_eq!(rec.output.unwrap()["cv_text"], "new");
    assert_eq!(rec.model.as_deref(), Some("m"));
    // A run never reuses its own output, and failed stages are not outputs.
    let (run, _) = store
        .latest_stage_output(&job(1).id, StageName::Cv, &new.run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run, old.run_id);
    assert!(store
        .latest_stage_output(&job(1).id, StageName::FitScore, &me)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .latest_stage_output(&job(3).id, StageName::Cv, &me)
        .await
        .unwrap()
        .is_none());
}

pub async fn runners_heartbeat_and_the_silent_one_is_lost(store: DynStore) {
    use job_runner::store::RunnerBeat;
    let now = Utc::now();
    let beat = |id: &str, seen: chrono::DateTime<Utc>, active: u32| RunnerBeat {
        runner_id: id.into(),
        host: "vm-1".into(),
        version: "1.2.3".into(),
        started_at: now - chrono::Duration::minutes(10),
        last_seen: seen,
        active_runs: active,
        draining: false,
    };
    assert!(store.runners().await.unwrap().is_empty());
    store
        .heartbeat(&beat("a", now - chrono::Duration::minutes(5), 1))
        .await
        .unwrap();
    store.heartbeat(&beat("b", now, 2)).await.unwrap();
    // A's next beat replaces its record.
    let again = RunnerBeat {
        draining: true,
        ..beat("a", now + chrono::Duration::seconds(1), 0)
    };
    store.heartbeat(&again).await.unwrap();
    let runners = store.runners().await.unwrap();
    assert_eq!(runners.len(), 2, "{runners:?}");
    assert_eq!(runners[0].runner_id, "a", "newest beat first");
    assert!(runners[0].draining && runners[0].active_runs == 0);
    assert_eq!(runners[1].active_runs, 2);
    assert!(!runners[1].is_lost(now));
    let stale = beat("c", now - chrono::Duration::seconds(40), 0);
    store.heartbeat(&stale).await.unwrap();
    let c = store
        .runners()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.runner_id == "c")
        .unwrap();
    assert!(c.is_lost(now), "three missed beats");
    assert_eq!(c.version, "1.2.3");
}

pub async fn console_sessions_stay_revoked_until_they_expire(store: DynStore) {
    assert!(!store.session_revoked("session-a").await.unwrap());
    store
        .revoke_session("session-a", Utc::now() + chrono::Duration::hours(1))
        .await
        .unwrap();
    store
        .revoke_session("session-old", Utc::now() - chrono::Duration::seconds(5))
        .await
        .unwrap();
    // A second logout of the same session changes nothing.
    store
        .revoke_session("session-a", Utc::now() + chrono::Duration::hours(2))
        .await
        .unwrap();
    assert!(store.session_revoked("session-a").await.unwrap());
    assert!(store.session_revoked("session-old").await.unwrap());
    assert!(!store.session_revoked("session-b").await.unwrap());
    // The revocation of an expired session goes with the expired tokens; the live one stays.
    assert_eq!(store.purge_expired_tokens(Utc::now()).await.unwrap(), 1);
    assert!(!store.session_revoked("session-old").await.unwrap());
    assert!(store.session_revoked("session-a").await.unwrap());
}

pub async fn jobs_are_found_by_company_or_title_newest_first(store: DynStore) {
    let posting = |n: u32, company: &str, title: &str| JobPosting {
        company: company.into(),
        title: title.into(),
        ..job(n)
    };
    for p in [
        posting(1, "Northwind Logistics", "Senior Backend Engineer"),
        posting(2, "St. Mary's Hospital (NHS)", "Staff Nurse"),
        posting(3, "Acme", "Backend Developer [Rust]"),
    ] {
        store.upsert_job(&p).await.unwrap();
    }
    let ids =
        |found: Vec<job_runner::store::JobSummary>| found.into_iter().map(|j| j.job_id.to_string()).collect::<Vec<_>>();
    let id = |n: u32| format!("{n:024x}");
    // Empty: every job, newest first, bounded by the limit.
    assert_eq!(ids(store.search_jobs("", 10).await.unwrap()), [id(3), id(2), id(1)]);
    assert_eq!(ids(store.search_jobs("  ", 2).await.unwrap()), [id(3), id(2)]);
    // Title or company, either case.
    assert_eq!(ids(store.search_jobs("backend", 10).await.unwrap()), [id(3), id(1)]);
    assert_eq!(ids(store.search_jobs("NORTHWIND", 10).await.unwrap()), [id(1)]);
    // Characters a pattern language would read are matched as written.
    assert_eq!(ids(store.search_jobs("(NHS)", 10).await.unwrap()), [id(2)]);
    assert_eq!(ids(store.search_jobs("[rust]", 10).await.unwrap()), [id(3)]);
    assert_eq!(ids(store.search_jobs("mary's", 10).await.unwrap()), [id(2)]);
    assert!(store.search_jobs(".*", 10).await.unwrap().is_empty());
    let found = store.search_jobs("nurse", 10).await.unwrap();
    assert_eq!(
        (found[0].company.as_str(), found[0].title.as_str()),
        ("St. Mary's Hospital (NHS)", "Staff Nurse")
    );
}
