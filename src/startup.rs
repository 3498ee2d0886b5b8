//! Building the daemon: [`Runtime`] starts the store-backed actors (used by `serve` and by
//! the CLI's `run`), [`Application`] adds the HTTP server on a bound listener so tests can
//! start the real thing on port 0. SIGTERM/SIGINT drain: stop admitting, let running stages
//! finish within `SHUTDOWN_GRACE_SECONDS`, re-queue what is left, flush logs, exit 0.

use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::time::Instant;

use actix::{Actor, Addr};
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;

use crate::actors::health::{HealthActor, SharedSnapshot};
use crate::actors::log_hub::LogHub;
use crate::actors::messages::{Drain, FlushLogs};
use crate::actors::run_actor::PipelineDeps;
use crate::actors::stage_actor::StageSet;
use crate::actors::supervisor::{RunSupervisor, RunnerStats};
use crate::config::Settings;
use crate::domain::RunStatus;
use crate::firecrawl::Firecrawl;
use crate::http::{self, AppState, BearerAuth};
use crate::llm::service::LlmService;
use crate::notify::Notifier;
use crate::pipeline::builtin_stages::{default_stages, StageServices};
use crate::pipeline::lifecycle::RunDeps;
use crate::store::mongo::{MongoConfig, MongoStore};
use crate::store::sqlite::SqliteStore;
use crate::store::DynStore;

/// An exclusive lock on `DATA_DIR`: one executing process per embedded store, so runs left
/// `running` by a crash can be taken back at once on the next start.
pub struct InstanceLock {
    _file: File,
}

impl InstanceLock {
    /// Takes the lock or explains who holds it.
    pub fn acquire(data_dir: &Path) -> anyhow::Result<Self> {
        use std::os::unix::io::AsRawFd;
        std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create DATA_DIR {}", data_dir.display()))?;
        let path = data_dir.join("job-runner.lock");
        let file = File::create(&path).with_context(|| format!("cannot open lock file {}", path.display()))?;
        // SAFETY: flock on a file descriptor we own; no memory is shared.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            anyhow::bail!(
                "another job-runner process is using DATA_DIR {} (lock {} is held); stop it or use another DATA_DIR",
                data_dir.display(),
                path.display()
            );
        }
        Ok(Self { _file: file })
    }
}

/// Opens the configured store: MongoDB when `MONGODB_URI` is set, else the embedded SQLite
/// file in `DATA_DIR`.
pub async fn open_store(settings: &Settings) -> anyhow::Result<DynStore> {
    match &settings.store.mongodb_uri {
        Some(uri) => {
            let config = MongoConfig {
                database: settings.store.mongodb_db.clone(),
                jobs_collection: settings.store.mongodb_jobs_collection.clone(),
                prefix: settings.store.mongodb_collection_prefix.clone(),
                server_selection_timeout: settings.store.mongodb_server_selection_timeout,
            };
            let store = MongoStore::connect(uri.expose(), &config).await.with_context(|| {
                format!(
                    "cannot use MongoDB (database {}, MONGODB_URI set)",
                    settings.store.mongodb_db
                )
            })?;
            Ok(Arc::new(store))
        }
        None => Ok(Arc::new(
            SqliteStore::open(&settings.paths.data_dir)
                .await
                .with_context(|| format!("cannot open the store in {}", settings.paths.data_dir.display()))?,
        )),
    }
}

/// The actors and the store, without HTTP.
pub struct Runtime {
    pub settings: Arc<Settings>,
    pub store: DynStore,
    pub hub: Addr<LogHub>,
    pub supervisor: Addr<RunSupervisor>,
    pub stats: Arc<RunnerStats>,
    /// This process's lease-owner id.
    pub instance_id: String,
    /// The latest health-check round.
    pub health: SharedSnapshot,
    /// This runtime's metrics (`/metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The remote publishing targets (shared with the runs).
    pub remote: crate::pipeline::remote_publish::RemoteTargets,
    /// Held for the embedded store only (one executing process per `DATA_DIR`).
    _lock: Option<InstanceLock>,
}

impl Runtime {
    /// Opens the store, recovers runs a crash left behind, and starts the actors. Must be
    /// called inside the actix runtime.
    pub async fn start(settings: Settings) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let lock = if settings.store.mongodb_uri.is_none() {
            Some(InstanceLock::acquire(&settings.paths.data_dir)?)
        } else {
            None
        };
        let store = open_store(&settings).await?;
        // Holding the embedded store's lock, every run left `running` is an orphan; with a
        // shared store, only runs whose lease expired are.
        let recovered = store
            .recover_runs(chrono::Utc::now(), lock.is_some())
            .await
            .context("cannot recover interrupted runs")?;
        if !recovered.is_empty() {
            tracing::warn!(
                count = recovered.len(),
                "re-queued runs interrupted by a previous stop; they resume from their last checkpoint"
            );
        }
        let queued = store
            .count_runs(RunStatus::Queued)
            .await
            .context("cannot count queued runs")?;
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let services = StageServices {
            llm: LlmService::from_settings(&settings, store.clone(), Arc::clone(&metrics))
                .map_err(|e| anyhow::anyhow!("LLM settings: {e}"))?,
            firecrawl: Firecrawl::from_settings(&settings, store.clone(), Arc::clone(&metrics))
                .map_err(|e| anyhow::anyhow!("FireCrawl settings: {e}"))?
                .map(Arc::new),
            outreach: !settings.firecrawl.disable_outreach,
            star_selector: settings.llm.enable_star_selector,
        };
        if !settings.paths.master_cv_path.is_file() {
            tracing::warn!(path = %settings.paths.master_cv_path.display(), "MASTER_CV_PATH does not exist; runs without a profile_ref will fail until it does");
        }
        let hub = LogHub::new(store.clone(), settings.logging.log_buffer_limit, Arc::clone(&metrics)).start();
        let stages = StageSet::start(
            default_stages(&services),
            settings.queue.offline_stage_delay,
            &settings.queue.stage_faults,
        );
        let stats = Arc::new(RunnerStats {
            active: AtomicUsize::new(0),
            queued: AtomicUsize::new(queued as usize),
            max_concurrency: settings.queue.max_concurrency,
            max_queue: settings.queue.max_queue,
            draining: AtomicBool::new(false),
            store_ok: AtomicBool::new(true),
        });
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let instance_id = format!("{}-{}-{}", crate::host::hostname(), std::process::id(), &suffix[..8]);
        let remote = crate::pipeline::remote_publish::RemoteTargets::from_settings(&settings.publishing)
            .map_err(|e| anyhow::anyhow!("remote publishing settings: {e}"))?;
        let deps = Arc::new(PipelineDeps {
            run: Arc::new(RunDeps {
                store: store.clone(),
                settings: Arc::clone(&settings),
                stages: Arc::new(stages),
                log_sink: Arc::new(hub.clone()),
                instance_id: instance_id.clone(),
                redactor: Arc::new(crate::config::Redactor::from_settings(&settings)),
                metrics: Arc::clone(&metrics),
                completion: crate::notify::completion::CompletionHook::from_settings(&settings.publishing)
                    .map_err(|e| anyhow::anyhow!("webhook settings: {e}"))?
                    .map(Arc::new),
                remote: remote.clone(),
            }),
            hub: hub.clone(),
        });
        let supervisor = RunSupervisor::new(deps, Arc::clone(&stats)).start();
        let notifier = Notifier::from_settings(&settings.alerts).map_err(|e| anyhow::anyhow!("alert settings: {e}"))?;
        if notifier.is_empty() {
            tracing::info!("neither ALERT_TO nor ALERT_WEBHOOK_URL is set: health alerts are only logged and recorded");
        }
        let health = SharedSnapshot::default();
        HealthActor::new(
            store.clone(),
            Arc::clone(&settings),
            Arc::clone(&stats),
            Arc::clone(&health),
            notifier,
            services.llm.clone(),
            Arc::clone(&metrics),
        )
        .start();
        Ok(Self {
            settings,
            store,
            hub,
            supervisor,
            stats,
            instance_id,
            health,
            metrics,
            remote,
            _lock: lock,
        })
    }

    /// Drains the supervisor within the grace period and flushes the logs.
    pub async fn shutdown(&self) {
        let deadline = Instant::now() + self.settings.queue.shutdown_grace;
        tracing::info!(
            grace_s = self.settings.queue.shutdown_grace.as_secs(),
            "draining: no new runs; waiting for running stages"
        );
        if let Err(e) = self.supervisor.send(Drain { deadline }).await {
            tracing::error!(error = %e, "drain failed");
        }
        let _ = self.hub.send(FlushLogs).await;
    }
}

/// Renders a small PDF once at start-up (`/health` reports the outcome).
fn pdf_self_test(settings: &Settings) -> Result<(), String> {
    let result = crate::artifacts::pdf::self_test(settings.publishing.pdf_page_size);
    if let Err(e) = &result {
        tracing::error!(error = %e, "the PDF renderer failed its self-test: runs will fail at publishing");
    }
    result
}

/// The daemon: runtime plus HTTP server.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    runtime: Runtime,
}

impl Application {
    /// Starts the runtime and binds the listener (`PORT=0` picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.bind_address())
            .with_context(|| format!("cannot listen on {}", settings.bind_address()))?;
        let port = listener.local_addr()?.port();
        let runtime = Runtime::start(settings).await?;
        let settings = Arc::clone(&runtime.settings);
        let unused = crate::config::unused_settings_present();
        if !unused.is_empty() {
            tracing::warn!(
                settings = %unused.join(", "),
                "settings of the old runner that job-runner accepts but does not use"
            );
        }
        if settings.server.runner_api_secret.is_none() {
            tracing::warn!(
                host = %settings.server.host,
                allow_no_auth = settings.server.allow_no_auth,
                "RUNNER_API_SECRET is not set: auth is off and the API is open to anyone who can reach this address (/health says \"auth\": \"off\")"
            );
        }
        let state = web::Data::new(AppState {
            settings: Arc::clone(&settings),
            store: runtime.store.clone(),
            supervisor: runtime.supervisor.clone(),
            hub: runtime.hub.clone(),
            stats: Arc::clone(&runtime.stats),
            instance_id: runtime.instance_id.clone(),
            health: Arc::clone(&runtime.health),
            metrics: Arc::clone(&runtime.metrics),
            started: std::time::Instant::now(),
            sse_streams: Arc::default(),
            tokens: crate::tokens::RunTokens::from_settings(&settings).map(Arc::new),
            sessions: settings
                .server
                .runner_api_secret
                .as_ref()
                .map(|s| http::session::SessionGuard {
                    sessions: Arc::new(crate::tokens::console::ConsoleSessions::new(
                        s.expose(),
                        settings.server.session_ttl,
                    )),
                    store: runtime.store.clone(),
                }),
            pdf_check: pdf_self_test(&settings),
            remote: runtime.remote.clone(),
        });
        let secret = settings
            .server
            .runner_api_secret
            .as_ref()
            .map(|s| s.expose().to_owned());
        let (origins, max_body) = (settings.server.cors_origins.clone(), settings.server.max_body_bytes);
        let metrics = Arc::clone(&runtime.metrics);
        let open_reads = settings.server.open_read_routes;
        let open_docs = settings.server.docs_are_open();
        let (run_tokens, token_store) = (state.tokens.clone(), runtime.store.clone());
        let sessions = state.sessions.clone();
        let console = settings.server.enable_console;
        if open_reads && settings.server.runner_api_secret.is_some() {
            tracing::warn!(
                "OPEN_READ_ROUTES is on: queue, log, status, progress, metrics-widget and diagnostics reads need no bearer token"
            );
        }
        let limits = http::rate_limit::ClientLimits::new(
            settings.server.rate_limit_per_minute,
            settings.server.trusted_proxies.clone(),
        );
        let trusted = Arc::new(settings.server.trusted_proxies.clone());
        let audit_store = runtime.store.clone();
        let server = HttpServer::new(move || {
            let metrics = Arc::clone(&metrics);
            let limits = limits.clone();
            let (trusted, audit_store) = (Arc::clone(&trusted), audit_store.clone());
            let mut cors = actix_cors::Cors::default()
                .allowed_methods(vec!["GET", "POST", "HEAD"])
                .allowed_headers(vec!["Authorization", "Content-Type", "Last-Event-ID"])
                .max_age(3600);
            for o in &origins {
                cors = cors.allowed_origin(o);
            }
            App::new()
                .wrap(
                    BearerAuth::new(secret.as_deref())
                        .with_open_reads(open_reads)
                        .with_open_docs(open_docs)
                        .with_run_tokens(run_tokens.clone(), token_store.clone())
                        .with_sessions(sessions.clone()),
                )
                .wrap_fn(move |req, srv| {
                    // Per-client limits on state-changing requests, before anything else works.
                    let refused = limits.as_ref().and_then(|l| l.check(&req).err());
                    let fut = match refused {
                        Some(error) => {
                            let res = actix_web::ResponseError::error_response(&error);
                            return futures_util::future::Either::Left(std::future::ready(Ok(req
                                .into_response(res)
                                .map_into_right_body())));
                        }
                        None => actix_web::dev::Service::call(srv, req),
                    };
                    futures_util::future::Either::Right(async move { fut.await.map(|r| r.map_into_left_body()) })
                })
                .wrap_fn(move |req, srv| {
                    // Request count and latency by route pattern (never the raw path); the
                    // request id on the span of everything the request does; the security
                    // headers on every answer (errors and auth refusals too); and the audit
                    // trail of every state-changing request, refused ones included.
                    let (method, started) = (req.method().clone(), std::time::Instant::now());
                    let id = http::hygiene::request_id(req.headers().get(http::hygiene::REQUEST_ID));
                    // The client's address only for the trail (reads are not audited).
                    let client = http::audit::is_state_changing(&method)
                        .then(|| http::rate_limit::client_address(req.request(), &trusted));
                    let span = tracing::info_span!("request", request_id = %id);
                    let fut = tracing::Instrument::instrument(actix_web::dev::Service::call(srv, req), span.clone());
                    let metrics = Arc::clone(&metrics);
                    let audit_store = audit_store.clone();
                    async move {
                        let mut res = fut.await?;
                        let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
                        metrics.http_request(method.as_str(), &route, res.status().as_u16(), started.elapsed());
                        let path = res.request().path().to_owned();
                        http::hygiene::secure(res.headers_mut(), &id, &path);
                        if http::audit::is_state_changing(&method) {
                            let entry = http::audit::entry(&res, &id, client.unwrap_or_default());
                            tracing::Instrument::instrument(http::audit::record(&audit_store, entry), span).await;
                        }
                        Ok(res)
                    }
                })
                .wrap(cors)
                .wrap_fn(|req, srv| {
                    // The CORS layer refuses preflights in plain text: answer JSON instead.
                    // (Only a preflight's request is kept: a second handle on a request the
                    // handlers use would stop them from reading it.)
                    let preflight = http::hygiene::is_preflight(&req).then(|| req.request().clone());
                    let fut = actix_web::dev::Service::call(srv, req);
                    async move {
                        let refused = |r: actix_web::HttpRequest| {
                            let res = http::hygiene::cors_refusal(&r);
                            actix_web::dev::ServiceResponse::new(r, res)
                        };
                        match (fut.await, preflight) {
                            (Ok(res), Some(r)) if res.status().is_client_error() => {
                                drop(res);
                                Ok(refused(r))
                            }
                            (Ok(res), _) => Ok(res.map_into_boxed_body()),
                            (Err(_), Some(r)) => Ok(refused(r)),
                            (Err(e), None) => Err(e),
                        }
                    }
                })
                .app_data(state.clone())
                .configure(|c| http::configure(c, max_body, console))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(5)
        .listen(listener)?
        .run();
        tracing::info!(port, store = runtime.store.backend(), "job-runner listening");
        Ok(Self { port, server, runtime })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT, then drains and returns. Tells systemd when it is
    /// ready (listener bound, store answering) and when it stops.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        match self.runtime.store.ping().await {
            Ok(()) => crate::systemd::ready(&format!("serving on port {}", self.port)),
            Err(e) => {
                tracing::error!(error = %e, "store unreachable at start-up; not ready until it answers");
                let store = self.runtime.store.clone();
                let port = self.port;
                tokio::spawn(async move {
                    while store.ping().await.is_err() {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                    crate::systemd::ready(&format!("serving on port {port}"));
                });
            }
        }
        crate::systemd::spawn_watchdog(self.runtime.supervisor.clone());
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        }
        crate::systemd::stopping();
        self.runtime.shutdown().await;
        handle.stop(true).await;
        let _ = server.await;
        tracing::info!("job-runner stopped");
        Ok(())
    }

    /// Serves until the returned future is dropped (tests).
    pub async fn run_in_background(self) -> anyhow::Result<()> {
        let _runtime = self.runtime;
        self.server.await?;
        Ok(())
    }
}
