//! Run-scoped read tokens (JWT, HS256). A browser's `EventSource` cannot send an
//! `Authorization` header, and the API secret must never reach a browser; so a run request
//! answers a `stream_token` that lets its holder read exactly that run: its log stream
//! (`?token=`), status, progress, run detail and artifacts. Nothing else, and never a
//! state-changing route.
//!
//! The rules, all failing closed: the algorithm is pinned to HS256 (a token naming any
//! other, `none` included, is refused); `exp`, `aud` and `iss` are required; the audience
//! is `run:<run id>` and must be the run the request names; the scope must be `read`;
//! clocks may differ by at most [`LEEWAY_SECONDS`]. The signature proves we issued it;
//! the store's record of it (checked by the HTTP layer) proves it was not revoked.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::RunId;

pub mod console;

/// The `iss` of every token we issue.
pub const ISSUER: &str = "job-runner";

/// The only scope a run token carries.
pub const READ_SCOPE: &str = "read";

/// Clock difference tolerated on `exp` and `nbf` (the issue allows at most 30 s).
pub const LEEWAY_SECONDS: u64 = 10;

/// The claims of a run token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunClaims {
    /// Always [`ISSUER`].
    pub iss: String,
    /// `run:<run id>`.
    pub aud: String,
    /// Always `run` (what kind of thing the token is about).
    pub sub: String,
    /// Always [`READ_SCOPE`].
    pub scope: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// The token's id: what revocation names.
    pub jti: String,
}

impl RunClaims {
    /// The run the token is for (from `aud`).
    pub fn run(&self) -> Option<&str> {
        self.aud.strip_prefix("run:")
    }

    /// When the token expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.exp, 0).single().unwrap_or_else(Utc::now)
    }

    /// When the token was issued.
    pub fn issued_at(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.iat, 0).single().unwrap_or_else(Utc::now)
    }
}

/// Why a token was refused: a stable code and a message naming the problem (never the
/// token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRefusal {
    /// Stable error code (`TOKEN_EXPIRED`, ...).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

impl TokenRefusal {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A freshly issued token and its claims.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// What it says.
    pub claims: RunClaims,
}

/// Issues and checks run tokens with one key.
pub struct RunTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl std::fmt::Debug for RunTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunTokens")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RunTokens {
    /// Tokens signed with `secret` (validated by the settings: ≥ 32 bytes, not the API
    /// secret), valid for `ttl` unless the issuer says otherwise.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl,
        }
    }

    /// From the settings, when `JWT_SECRET` is set.
    pub fn from_settings(settings: &crate::config::Settings) -> Option<Self> {
        settings
            .server
            .jwt_secret
            .as_ref()
            .map(|s| Self::new(s.expose().as_bytes(), settings.server.run_token_ttl))
    }

    /// The lifetime of tokens issued with a run.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a read token for `run`, valid for `ttl` (the configured lifetime when `None`).
    pub fn issue(&self, run: &RunId, ttl: Option<Duration>, now: DateTime<Utc>) -> Result<IssuedToken, String> {
        let ttl = ttl.unwrap_or(self.ttl);
        let ttl_secs = i64::try_from(ttl.as_secs()).map_err(|_| "token lifetime is too long".to_owned())?;
        let claims = RunClaims {
            iss: ISSUER.to_owned(),
            aud: format!("run:{run}"),
            sub: "run".to_owned(),
            scope: READ_SCOPE.to_owned(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: now.timestamp() + ttl_secs,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| format!("cannot sign the run token: {e}"))?;
        Ok(IssuedToken { token, claims })
    }

    /// The claims of `token` when it is ours, unexpired, for run `run` and read-only.
    pub fn verify(&self, token: &str, run: &str) -> Result<RunClaims, TokenRefusal> {
        self.check(token, Some(run))
    }

    /// The claims of a token we signed, whatever run it is for (revocation by token, which
    /// names no run). Expired tokens are still refused.
    pub fn verify_any_run(&self, token: &str) -> Result<RunClaims, TokenRefusal> {
        self.check(token, None)
    }

    fn check(&self, token: &str, run: Option<&str>) -> Result<RunClaims, TokenRefusal> {
        if token.len() > 4096 {
            return Err(TokenRefusal::new(
                "TOKEN_MALFORMED",
                "the token is longer than any we issue",
            ));
        }
        let mut v = Validation::new(Algorithm::HS256);
        v.algorithms = vec![Algorithm::HS256];
        v.set_required_spec_claims(&["exp", "aud", "iss", "nbf"]);
        v.set_issuer(&[ISSUER]);
        v.leeway = LEEWAY_SECONDS;
        v.validate_exp = true;
        v.validate_nbf = true;
        match run {
            Some(run) => v.set_audience(&[format!("run:{run}")]),
            None => v.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<RunClaims>(token, &self.decoding, &v).map_err(|e| refusal(e.kind()))?;
        let claims = data.claims;
        if claims.scope != READ_SCOPE || claims.sub != "run" {
            return Err(TokenRefusal::new(
                "TOKEN_INVALID",
                "the token does not carry the run read scope",
            ));
        }
        if claims.run().is_none_or(|r| RunId::parse(r).is_err()) {
            return Err(TokenRefusal::new("TOKEN_INVALID", "the token's audience is not a run"));
        }
        if claims.jti.is_empty() || claims.jti.len() > 64 {
            return Err(TokenRefusal::new("TOKEN_INVALID", "the token has no usable id (jti)"));
        }
        Ok(claims)
    }
}

/// The refusal for a decoding error.
fn refusal(kind: &ErrorKind) -> TokenRefusal {
    match kind {
        ErrorKind::ExpiredSignature => TokenRefusal::new("TOKEN_EXPIRED", "the token has expired; ask for a new one"),
        ErrorKind::ImmatureSignature => TokenRefusal::new("TOKEN_INVALID", "the token is not valid yet (nbf)"),
        ErrorKind::InvalidAudience => TokenRefusal::new("TOKEN_WRONG_RUN", "the token is for another run"),
        ErrorKind::InvalidSignature => {
            TokenRefusal::new("TOKEN_BAD_SIGNATURE", "the token's signature does not verify")
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            TokenRefusal::new("TOKEN_INVALID", "the token's algorithm is not HS256")
        }
        ErrorKind::InvalidIssuer => TokenRefusal::new("TOKEN_INVALID", "the token was not issued by job-runner"),
        ErrorKind::MissingRequiredClaim(claim) => {
            TokenRefusal::new("TOKEN_INVALID", format!("the token lacks the required claim {claim:?}"))
        }
        ErrorKind::Json(_) => TokenRefusal::new(
            "TOKEN_INVALID",
            "the token's claims are not a run token's (iss, aud, sub, scope, iat, nbf, exp, jti)",
        ),
        _ => TokenRefusal::new("TOKEN_MALFORMED", "the token is not a well-formed JWT"),
    }
}

/// True when a bearer value looks like a JWT rather than the API secret: three base64url
/// parts, the first a JSON header (`eyJ`).
pub fn looks_like_jwt(value: &str) -> bool {
    value.starts_with("eyJ")
        && value.split('.').count() == 3
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-test-key";

    fn run() -> RunId {
        RunId::parse("0123456789abcdef0123456789abcdef").unwrap()
    }

    fn tokens() -> RunTokens {
        RunTokens::new(KEY, Duration::from_secs(3600))
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn a_token_opens_its_run_and_nothing_else() {
        let t = tokens();
        let issued = t.issue(&run(), None, Utc::now()).unwrap();
        assert!(looks_like_jwt(&issued.token));
        let claims = t.verify(&issued.token, run().as_ref()).unwrap();
        assert_eq!(claims.run(), Some(run().as_ref()));
        assert_eq!(claims.exp - claims.iat, 3600);
        let other = t.verify(&issued.token, "fedcba9876543210fedcba9876543210").unwrap_err();
        assert_eq!(other.code, "TOKEN_WRONG_RUN");
    }

    #[test]
    fn forged_tokens_are_refused_with_their_reason() {
        let t = tokens();
        let now = Utc::now();
        // Expired beyond the leeway.
        let old = t
            .issue(
                &run(),
                Some(Duration::from_secs(60)),
                now - chrono::Duration::seconds(3600),
            )
            .unwrap();
        assert_eq!(t.verify(&old.token, run().as_ref()).unwrap_err().code, "TOKEN_EXPIRED");
        // Signed with another key.
        let foreign = RunTokens::new(b"another-key-another-key-another-key!!", Duration::from_secs(60))
            .issue(&run(), None, now)
            .unwrap();
        assert_eq!(
            t.verify(&foreign.token, run().as_ref()).unwrap_err().code,
            "TOKEN_BAD_SIGNATURE"
        );
        // alg none, with our claims.
        let good = t.issue(&run(), None, now).unwrap();
        let payload = good.token.split('.').nth(1).unwrap();
        let none = format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
        assert!(matches!(
            t.verify(&none, run().as_ref()).unwrap_err().code,
            "TOKEN_INVALID" | "TOKEN_MALFORMED"
        ));
        // Tampered payload (another run), original signature.
        let mut parts: Vec<String> = good.token.split('.').map(str::to_owned).collect();
        let mut claims = good.claims.clone();
        claims.aud = "run:fedcba9876543210fedcba9876543210".into();
        parts[1] = b64(serde_json::to_string(&claims).unwrap().as_bytes());
        let tampered = parts.join(".");
        assert_eq!(
            t.verify(&tampered, "fedcba9876543210fedcba9876543210")
                .unwrap_err()
                .code,
            "TOKEN_BAD_SIGNATURE"
        );
        // HS512 with the right key: the algorithm is pinned.
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &good.claims,
            &EncodingKey::from_secret(KEY),
        )
        .unwrap();
        assert_eq!(t.verify(&hs512, run().as_ref()).unwrap_err().code, "TOKEN_INVALID");
        // Missing exp, wrong issuer, wrong scope.
        let sign = |v: serde_json::Value| {
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &v, &EncodingKey::from_secret(KEY)).unwrap()
        };
        let mut base = serde_json::to_value(&good.claims).unwrap();
        base.as_object_mut().unwrap().remove("exp");
        assert_eq!(t.verify(&sign(base), run().as_ref()).unwrap_err().code, "TOKEN_INVALID");
        let mut base = serde_json::to_value(&good.claims).unwrap();
        base["iss"] = "someone-else".into();
        assert_eq!(t.verify(&sign(base), run().as_ref()).unwrap_err().code, "TOKEN_INVALID");
        let mut base = serde_json::to_value(&good.claims).unwrap();
        base["scope"] = "write".into();
        assert_eq!(t.verify(&sign(base), run().as_ref()).unwrap_err().code, "TOKEN_INVALID");
        assert_eq!(
            t.verify("not-a-token", run().as_ref()).unwrap_err().code,
            "TOKEN_MALFORMED"
        );
    }

    #[test]
    fn the_leeway_is_small() {
        let t = tokens();
        let now = Utc::now();
        // Expired 5 s ago: within the leeway.
        let recent = t
            .issue(
                &run(),
                Some(Duration::from_secs(60)),
                now - chrono::Duration::seconds(65),
            )
            .unwrap();
        assert!(t.verify(&recent.token, run().as_ref()).is_ok());
        // Expired 40 s ago: beyond any leeway the issue allows.
        let late = t
            .issue(
                &run(),
                Some(Duration::from_secs(60)),
                now - chrono::Duration::seconds(100),
            )
            .unwrap();
        assert_eq!(t.verify(&late.token, run().as_ref()).unwrap_err().code, "TOKEN_EXPIRED");
    }

    #[test]
    fn only_jwt_shaped_values_are_taken_for_tokens() {
        assert!(!looks_like_jwt("0123456789abcdef0123456789abcdef"));
        assert!(!looks_like_jwt("eyJ.only-two"));
        assert!(looks_like_jwt("eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.c2ln"));
    }
}
