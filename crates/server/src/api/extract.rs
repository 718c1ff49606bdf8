//! Extractors: [`ApiJson`] (JSON with JSON errors) and [`Signed`] (a
//! device-signed request, checked in the documented order).

use axum::body::Bytes;
use axum::extract::{FromRequest, OriginalUri, Request};
use axum::http::{HeaderMap, StatusCode};
use lifecert_protocol::api::codes;
use lifecert_protocol::auth::{
    HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, MAX_SKEW_SECS,
    parse_public_key, valid_nonce, verify_request,
};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::error::ApiError;
use crate::AppState;
use crate::storage::{AuditEntry, Device};

/// Reads the whole body, at most `limit` bytes (→ 413 `payload_too_large`).
pub async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    if let Some(len) = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(too_large(limit));
    }
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| too_large(limit))
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::PAYLOAD_TOO_LARGE,
        format!("the body is larger than {limit} bytes; send fewer items per request"),
    )
}

/// Parses JSON, mapping every failure to 400 `bad_request` with serde's message.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("body is not valid JSON for this route: {e}")))
}

/// A JSON body whose rejections are JSON [`ApiError`]s.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let body = read_body(req, state.limits.max_body_bytes).await?;
        parse_json(&body).map(ApiJson)
    }
}

/// A request whose device signature, clock, nonce and rate were checked.
#[derive(Debug)]
pub struct Signed {
    pub device: Device,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Signed {
    /// The body as JSON of `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(&self.body)
    }
}

/// The device header as stored in `auth.rejected` rows: at most 64
/// characters of `[A-Za-z0-9._-]`, and masked if it parses as an ID number
/// (a confused client must not plant a full ID in the audit log).
fn safe_device_label(raw: &str) -> String {
    let clean: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect();
    let digits = clean.chars().filter(char::is_ascii_digit).count();
    if digits >= 14 {
        match lifecert_core::id::IdNumber::parse(&clean) {
            Ok(id) => id.masked(),
            Err(_) => clean.chars().take(4).chain("***".chars()).collect(),
        }
    } else {
        clean
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                codes::UNSIGNED,
                format!("header {name} is missing or not text; sign the request"),
            )
        })
}

impl FromRequest<AppState> for Signed {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let method = req.method().as_str().to_owned();
        let path = req
            .extensions()
            .get::<OriginalUri>()
            .map(|u| &u.0)
            .unwrap_or(req.uri())
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        let headers = req.headers().clone();
        let body = read_body(req, state.limits.max_body_bytes).await?;
        let result = check(state, &method, &path, &headers, &body).await;
        match result {
            Ok(device) => Ok(Signed {
                device,
                headers,
                body,
            }),
            Err(e) => {
                if e.status == StatusCode::UNAUTHORIZED {
                    let device = headers
                        .get(HEADER_DEVICE)
                        .and_then(|v| v.to_str().ok())
                        .map(safe_device_label);
                    // The route only: a query string is client text.
                    let path = path.split('?').next().unwrap_or("").to_owned();
                    tracing::info!(code = e.code, path, "request refused");
                    let _ = state
                        .storage
                        .audit(AuditEntry::now(
                            "auth.rejected",
                            e.code,
                            device.as_deref(),
                            Some(path),
                        ))
                        .await;
                }
                Err(e)
            }
        }
    }
}

async fn check(
    state: &AppState,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Device, ApiError> {
    let device_id = header(headers, HEADER_DEVICE)?;
    let timestamp = header(headers, HEADER_TIMESTAMP)?;
    let nonce = header(headers, HEADER_NONCE)?;
    let signature = header(headers, HEADER_SIGNATURE)?;
    let timestamp: i64 = timestamp.parse().map_err(|_| {
        ApiError::unauthorized(
            codes::UNSIGNED,
            format!("{HEADER_TIMESTAMP} must be unix seconds"),
        )
    })?;
    if !valid_nonce(nonce) {
        return Err(ApiError::unauthorized(
            codes::UNSIGNED,
            format!("{HEADER_NONCE} must be 32 lowercase hex characters"),
        ));
    }
    let now = OffsetDateTime::now_utc();
    if (now.unix_timestamp() - timestamp).abs() > MAX_SKEW_SECS {
        return Err(ApiError::unauthorized(
            codes::STALE_TIMESTAMP,
            format!(
                "the request time is more than {MAX_SKEW_SECS} s off the server clock (server: {}); \
                 fix the kiosk clock",
                now.unix_timestamp()
            ),
        ));
    }
    let device = match state.storage.device(device_id).await? {
        Some(d) if !d.revoked => d,
        _ => {
            return Err(ApiError::unauthorized(
                codes::UNKNOWN_DEVICE,
                "this device is not registered (or was revoked); register it with a token",
            ));
        }
    };
    let key = parse_public_key(&device.public_key).map_err(|_| {
        ApiError::unauthorized(
            codes::UNKNOWN_DEVICE,
            "the registered key is unusable; re-register",
        )
    })?;
    verify_request(&key, method, path, timestamp, nonce, body, signature).map_err(|e| {
        ApiError::unauthorized(
            codes::BAD_SIGNATURE,
            format!("the signature does not verify: {e}"),
        )
    })?;
    if !state.rate.allow(&device.id) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMITED,
            "too many requests from this device; retry later",
        ));
    }
    if !state.storage.record_nonce(&device.id, nonce, now).await? {
        return Err(ApiError::unauthorized(
            codes::REPLAYED_NONCE,
            "this nonce was used before (a replayed request)",
        ));
    }
    Ok(device)
}
