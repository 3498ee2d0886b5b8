//! Rate limits per client on state-changing requests (`RATE_LIMIT_PER_MINUTE`): a client
//! is its bearer token, kept only as a short hash, or without one its address (the first
//! `X-Forwarded-For` hop when the peer is one of `TRUSTED_PROXIES`). Reads, `/health` and
//! CORS preflights are never limited. Over the limit: 429 `RATE_LIMITED` with
//! `Retry-After`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::http::error::ApiError;

/// The limiter shared by the server's workers.
#[derive(Clone)]
pub struct ClientLimits {
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
    per_minute: u32,
    trusted_proxies: Arc<Vec<IpAddr>>,
}

impl ClientLimits {
    /// Limits of `per_minute` state-changing requests per client; `None` when 0 (off).
    pub fn new(per_minute: u32, trusted_proxies: Vec<IpAddr>) -> Option<Self> {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute)?);
        Some(Self {
            limiter: Arc::new(RateLimiter::keyed(quota)),
            per_minute,
            trusted_proxies: Arc::new(trusted_proxies),
        })
    }

    /// Who is asking: a hash of the bearer token, else the client's address.
    fn client(&self, req: &ServiceRequest) -> String {
        if let Some(token) = super::auth::request_bearer(req.headers()) {
            return format!("token:{}", crate::domain::digest::sha256_hex(token.as_bytes(), 8));
        }
        format!("addr:{}", client_address(req.request(), &self.trusted_proxies))
    }

    /// `Err(429)` when `req` changes state and its client is over the limit.
    pub fn check(&self, req: &ServiceRequest) -> Result<(), ApiError> {
        let method = req.method();
        if method == Method::GET || method == Method::HEAD || method == Method::OPTIONS {
            return Ok(());
        }
        let client = self.client(req);
        match self.limiter.check_key(&client) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait =
                    not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
                let mut err = ApiError::new(
                    actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                    "RATE_LIMITED",
                    format!(
                        "more than {} state-changing requests per minute from this client (RATE_LIMIT_PER_MINUTE); retry later",
                        self.per_minute
                    ),
                );
                err.retry_after = Some(wait.as_secs().max(1));
                Err(err)
            }
        }
    }
}

/// The client's address: the first `X-Forwarded-For` hop when the peer is one of the
/// trusted proxies, else the peer.
pub fn client_address(req: &actix_web::HttpRequest, trusted_proxies: &[IpAddr]) -> String {
    let peer = req.peer_addr().map(|a| a.ip());
    let forwarded = peer
        .filter(|ip| trusted_proxies.contains(ip))
        .and_then(|_| req.headers().get("x-forwarded-for"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    forwarded.or(peer).map(|ip| ip.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, forwarded: Option<&str>, token: Option<&str>) -> ServiceRequest {
        let mut r = TestRequest::post().uri("/jobs/run").peer_addr(peer.parse().unwrap());
        if let Some(f) = forwarded {
            r = r.insert_header(("X-Forwarded-For", f));
        }
        if let Some(t) = token {
            r = r.insert_header(("Authorization", format!("Bearer {t}")));
        }
        r.to_srv_request()
    }

    #[test]
    fn a_client_is_its_token_hash_or_its_address_behind_trusted_proxies_only() {
        let limits = ClientLimits::new(10, vec!["10.0.0.1".parse().unwrap()]).unwrap();
        let by_token = limits.client(&req("1.2.3.4:5", None, Some("secret-token-value")));
        assert!(
            by_token.starts_with("token:") && !by_token.contains("secret"),
            "{by_token}"
        );
        assert_eq!(
            limits.client(&req("1.2.3.4:5", Some("9.9.9.9"), None)),
            "addr:1.2.3.4",
            "untrusted peer"
        );
        assert_eq!(
            limits.client(&req("10.0.0.1:5", Some("9.9.9.9, 10.0.0.1"), None)),
            "addr:9.9.9.9",
            "a trusted proxy names the client"
        );
        assert!(ClientLimits::new(0, vec![]).is_none(), "0 turns the limit off");
    }

    #[test]
    fn reads_are_never_limited() {
        let limits = ClientLimits::new(1, vec![]).unwrap();
        let get = || {
            TestRequest::get()
                .uri("/runs")
                .peer_addr("1.2.3.4:5".parse().unwrap())
                .to_srv_request()
        };
        for _ in 0..5 {
            assert!(limits.check(&get()).is_ok());
        }
        assert!(limits.check(&req("1.2.3.4:5", None, None)).is_ok());
        assert_eq!(
            limits.check(&req("1.2.3.4:5", None, None)).unwrap_err().code,
            "RATE_LIMITED"
        );
    }
}
