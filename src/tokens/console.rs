//! Console sessions: the operator console at `/` must never hold the API secret, so the
//! secret is exchanged once (`POST /session`) for a short-lived JWT that lives in an
//! HttpOnly cookie the page's script cannot read.
//!
//! The rules, all failing closed: HS256 only, signed with a key derived from
//! `RUNNER_API_SECRET` (rotating the secret ends every session, and every runner sharing
//! the secret accepts the cookie); `iss` job-runner, `aud` console, `sub` operator; `exp`
//! and `nbf` checked with [`super::LEEWAY_SECONDS`]. Each session carries a CSRF token
//! (`csrf`) the page sends back in [`CSRF_HEADER`] on every state-changing request; the
//! cookie alone never changes anything.
//!
//! A session is idle-limited by its lifetime (`SESSION_TTL_SECONDS`) and renewed while in
//! use: once less than half of it is left, the next request gets a fresh cookie with the
//! same id and CSRF token, until [`MAX_SESSION_SECONDS`] after the login, when it ends.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{TokenRefusal, ISSUER, LEEWAY_SECONDS};

/// The cookie's name.
pub const COOKIE: &str = "jr_session";

/// The header carrying the session's CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The `aud` of every session token.
pub const AUDIENCE: &str = "console";

/// The longest a session lives after its login, however busy: 12 hours.
pub const MAX_SESSION_SECONDS: i64 = 12 * 3600;

/// What a session token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Always [`ISSUER`].
    pub iss: String,
    /// Always [`AUDIENCE`].
    pub aud: String,
    /// Always `operator`.
    pub sub: String,
    /// Issued at (Unix seconds); renewal moves it.
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// The session's id: what logout revokes; kept across renewals.
    pub jti: String,
    /// The CSRF token state-changing requests must send in [`CSRF_HEADER`]; kept across
    /// renewals.
    pub csrf: String,
    /// When the operator logged in (Unix seconds): bounds renewal.
    pub auth_time: i64,
}

impl SessionClaims {
    /// When the session expires unless renewed.
    pub fn expires_at(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.exp, 0).single().unwrap_or_else(Utc::now)
    }
}

/// A signed session and its claims.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    /// The compact JWT (the cookie's value).
    pub token: String,
    /// What it says.
    pub claims: SessionClaims,
}

/// Issues, renews and checks console sessions with one key.
pub struct ConsoleSessions {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl std::fmt::Debug for ConsoleSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSessions")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl ConsoleSessions {
    /// Sessions for the API secret `api_secret`, idle-limited to `ttl`. The signing key is
    /// HMAC-SHA256 of a fixed label under the secret: the secret itself signs nothing, and
    /// a session token reveals nothing of it.
    pub fn new(api_secret: &str, ttl: Duration) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(api_secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(b"job-runner console session signing key v1");
        let key = mac.finalize().into_bytes();
        Self {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            ttl,
        }
    }

    /// The idle lifetime of a session.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new session for an operator who just logged in.
    pub fn issue(&self, now: DateTime<Utc>) -> Result<IssuedSession, String> {
        let claims = SessionClaims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: "operator".to_owned(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: 0,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            csrf: uuid::Uuid::new_v4().simple().to_string(),
            auth_time: now.timestamp(),
        };
        self.sign(claims, now)
    }

    /// A fresh token for a session in use when less than half its lifetime is left and
    /// its login is not yet [`MAX_SESSION_SECONDS`] old; `None` when it needs none or may
    /// have none.
    pub fn renew(&self, claims: &SessionClaims, now: DateTime<Utc>) -> Option<Result<IssuedSession, String>> {
        let ttl = self.ttl.as_secs() as i64;
        let left = claims.exp - now.timestamp();
        let renewable = claims.auth_time + MAX_SESSION_SECONDS > now.timestamp();
        (left < ttl / 2 && renewable).then(|| {
            self.sign(
                SessionClaims {
                    iat: now.timestamp(),
                    nbf: now.timestamp(),
                    ..claims.clone()
                },
                now,
            )
        })
    }

    /// Signs `claims` with the expiry set: `ttl` from now, never past the login's
    /// [`MAX_SESSION_SECONDS`].
    fn sign(&self, mut claims: SessionClaims, now: DateTime<Utc>) -> Result<IssuedSession, String> {
        let ttl = i64::try_from(self.ttl.as_secs()).map_err(|_| "session lifetime is too long".to_owned())?;
        claims.exp = (now.timestamp() + ttl).min(claims.auth_time + MAX_SESSION_SECONDS);
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| format!("cannot sign the console session: {e}"))?;
        Ok(IssuedSession { token, claims })
    }

    /// The claims of a session token we signed that has not expired.
    pub fn verify(&self, token: &str) -> Result<SessionClaims, TokenRefusal> {
        if token.len() > 4096 {
            return Err(TokenRefusal::new(
                "SESSION_INVALID",
                "the session cookie is longer than any we issue; sign in again",
            ));
        }
        let mut v = Validation::new(Algorithm::HS256);
        v.algorithms = vec![Algorithm::HS256];
        v.set_required_spec_claims(&["exp", "aud", "iss", "nbf"]);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[AUDIENCE]);
        v.leeway = LEEWAY_SECONDS;
        v.validate_nbf = true;
        let claims = jsonwebtoken::decode::<SessionClaims>(token, &self.decoding, &v)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => {
                    TokenRefusal::new("SESSION_EXPIRED", "the console session has expired; sign in again")
                }
                _ => TokenRefusal::new(
                    "SESSION_INVALID",
                    "the session cookie is not a console session of this daemon; sign in again",
                ),
            })?
            .claims;
        if claims.sub != "operator" || claims.jti.is_empty() || claims.jti.len() > 64 || claims.csrf.len() < 16 {
            return Err(TokenRefusal::new(
                "SESSION_INVALID",
                "the session cookie is not a console session of this daemon; sign in again",
            ));
        }
        Ok(claims)
    }
}

/// True when `presented` is the session's CSRF token (compared in constant time).
pub fn csrf_matches(claims: &SessionClaims, presented: &str) -> bool {
    use subtle::ConstantTimeEq;
    let (a, b) = (claims.csrf.as_bytes(), presented.trim().as_bytes());
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> ConsoleSessions {
        ConsoleSessions::new("operator-secret-0123456789", Duration::from_secs(3600))
    }

    #[test]
    fn a_session_verifies_with_its_own_secret_only() {
        let issued = sessions().issue(Utc::now()).unwrap();
        let claims = sessions().verify(&issued.token).unwrap();
        assert_eq!(claims, issued.claims);
        assert_eq!((claims.aud.as_str(), claims.sub.as_str()), ("console", "operator"));
        let other = ConsoleSessions::new("another-secret-0123456789", Duration::from_secs(3600));
        assert_eq!(other.verify(&issued.token).unwrap_err().code, "SESSION_INVALID");
        // The token is not the secret and does not contain it.
        assert!(!issued.token.contains("operator-secret"));
    }

    #[test]
    fn an_expired_session_says_so() {
        let long_ago = Utc::now() - chrono::Duration::hours(3);
        let issued = sessions().issue(long_ago).unwrap();
        assert_eq!(sessions().verify(&issued.token).unwrap_err().code, "SESSION_EXPIRED");
    }

    #[test]
    fn a_run_token_is_not_a_session() {
        let key = hmac_key("operator-secret-0123456789");
        let run = crate::tokens::RunTokens::new(&key, Duration::from_secs(3600));
        let id = crate::domain::RunId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let token = run.issue(&id, None, Utc::now()).unwrap().token;
        assert_eq!(sessions().verify(&token).unwrap_err().code, "SESSION_INVALID");
    }

    fn hmac_key(secret: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(b"job-runner console session signing key v1");
        mac.finalize().into_bytes().to_vec()
    }

    #[test]
    fn renewal_keeps_the_session_and_stops_at_the_login_limit() {
        let s = sessions();
        let login = Utc::now() - chrono::Duration::minutes(40);
        let issued = s.issue(login).unwrap();
        // 20 minutes left of 60: renewed, same id and CSRF token, a later expiry.
        let now = Utc::now();
        let renewed = s.renew(&issued.claims, now).expect("due").unwrap();
        assert_eq!(
            (&renewed.claims.jti, &renewed.claims.csrf),
            (&issued.claims.jti, &issued.claims.csrf)
        );
        assert_eq!(renewed.claims.exp, now.timestamp() + 3600);
        // Fresh: no renewal.
        assert!(s.renew(&renewed.claims, now).is_none());
        // Near the 12-hour limit the expiry stops at the limit, and past it nothing renews.
        let old = SessionClaims {
            auth_time: now.timestamp() - MAX_SESSION_SECONDS + 600,
            exp: now.timestamp() + 60,
            ..issued.claims.clone()
        };
        let last = s.renew(&old, now).expect("due").unwrap();
        assert_eq!(last.claims.exp, old.auth_time + MAX_SESSION_SECONDS);
        let over = SessionClaims {
            auth_time: now.timestamp() - MAX_SESSION_SECONDS - 1,
            ..old
        };
        assert!(s.renew(&over, now).is_none());
    }

    #[test]
    fn the_csrf_token_must_match_exactly() {
        let claims = sessions().issue(Utc::now()).unwrap().claims;
        assert!(csrf_matches(&claims, &claims.csrf.clone()));
        assert!(!csrf_matches(&claims, ""));
        assert!(!csrf_matches(&claims, &claims.csrf[1..]));
        assert!(!csrf_matches(&claims, &format!("{}0", claims.csrf)));
    }
}
