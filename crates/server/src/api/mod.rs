//! The `/v1` API: ONE route table ([`ROUTES`]) builds both the router and the
//! OpenAPI document, so they cannot drift apart.

pub mod error;
pub mod extract;
mod handlers;
pub mod ratelimit;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use lifecert_protocol::PROTOCOL_VERSION;
use lifecert_protocol::api::{PROTOCOL_HEADER, codes};
use serde_json::json;

use crate::AppState;
use error::ApiError;
pub use handlers::{EMBEDDING_NORM_RANGE, validate_embedding};

/// Which handler serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    ServerKey,
    Register,
    Status,
    History,
    Template,
    Certifications,
    Enrol,
    Heartbeat,
    OpenApi,
}

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub handler: Handler,
    /// `none`, `token`, `signed`, `signed+operator`.
    pub auth: &'static str,
    pub summary: &'static str,
    pub request: Option<&'static str>,
    pub response: &'static str,
}

/// Every `/v1` route.
pub const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/v1/server-key",
        handler: Handler::ServerKey,
        auth: "none",
        summary: "The X25519 key kiosks seal payloads to",
        request: None,
        response: "ServerKey",
    },
    Route {
        method: "POST",
        path: "/v1/devices/register",
        handler: Handler::Register,
        auth: "token",
        summary: "Register a kiosk with a one-time token",
        request: Some("RegisterRequest"),
        response: "RegisterResponse",
    },
    Route {
        method: "POST",
        path: "/v1/persons/status",
        handler: Handler::Status,
        auth: "signed",
        summary: "May this person certify now?",
        request: Some("PersonQuery"),
        response: "PersonStatus",
    },
    Route {
        method: "POST",
        path: "/v1/persons/history",
        handler: Handler::History,
        auth: "signed",
        summary: "A person's certifications, newest first",
        request: Some("PersonQuery"),
        response: "HistoryResponse",
    },
    Route {
        method: "POST",
        path: "/v1/persons/template",
        handler: Handler::Template,
        auth: "signed",
        summary: "The enrolled face template (404 when none)",
        request: Some("PersonQuery"),
        response: "TemplateResponse",
    },
    Route {
        method: "POST",
        path: "/v1/certifications",
        handler: Handler::Certifications,
        auth: "signed",
        summary: "Upload sealed results, idempotent by id",
        request: Some("UploadBatch"),
        response: "UploadResponse",
    },
    Route {
        method: "POST",
        path: "/v1/templates",
        handler: Handler::Enrol,
        auth: "signed+operator",
        summary: "Enrol (or replace) a face template; staff only",
        request: Some("EnrolRequest"),
        response: "EnrolResponse",
    },
    Route {
        method: "POST",
        path: "/v1/heartbeat",
        handler: Handler::Heartbeat,
        auth: "signed",
        summary: "Kiosk health and queue depth",
        request: Some("Heartbeat"),
        response: "HeartbeatResponse",
    },
    Route {
        method: "GET",
        path: "/v1/openapi.json",
        handler: Handler::OpenApi,
        auth: "none",
        summary: "This document",
        request: None,
        response: "OpenApi",
    },
];

fn method_router(r: &Route) -> MethodRouter<AppState> {
    match r.handler {
        Handler::ServerKey => get(handlers::server_key),
        Handler::Register => post(handlers::register),
        Handler::Status => post(handlers::person_status),
        Handler::History => post(handlers::person_history),
        Handler::Template => post(handlers::person_template),
        Handler::Certifications => post(handlers::certifications),
        Handler::Enrol => post(handlers::templates),
        Handler::Heartbeat => post(handlers::heartbeat),
        Handler::OpenApi => get(handlers::openapi),
    }
}

/// The API routes (state not yet applied), for merging with other routers.
pub fn routes() -> Router<AppState> {
    ROUTES.iter().fold(Router::new(), |router, r| {
        router.route(r.path, method_router(r))
    })
}

/// The whole application: API routes, `extra` (e.g. the admin pages),
/// the JSON 404 fallback and the protocol-header middleware.
pub fn app(state: AppState, extra: Option<Router<AppState>>) -> Router {
    let mut router = routes();
    if let Some(extra) = extra {
        router = router.merge(extra);
    }
    router
        .fallback(not_found)
        // Our extractors enforce `limits.max_body_bytes` themselves.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(protocol_layer))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see GET /v1/openapi.json")
}

/// 426 for another protocol version; the version header on every answer;
/// JSON bodies for axum's own 405.
async fn protocol_layer(req: Request, next: Next) -> Response {
    let mismatch = req
        .headers()
        .get(PROTOCOL_HEADER)
        .map(|v| v.to_str().ok().map(str::trim) != Some(PROTOCOL_VERSION.to_string().as_str()));
    let mut response = if mismatch == Some(true) {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            codes::PROTOCOL_MISMATCH,
            format!("this server speaks protocol {PROTOCOL_VERSION}; update the kiosk software"),
        )
        .into_response()
    } else {
        let r = next.run(req).await;
        if r.status() == StatusCode::METHOD_NOT_ALLOWED
            && r.headers().get(header::CONTENT_TYPE).is_none()
        {
            let mut e = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                codes::BAD_REQUEST,
                "method not allowed on this route; see GET /v1/openapi.json",
            )
            .into_response();
            if let Some(allow) = r.headers().get(header::ALLOW) {
                e.headers_mut().insert(header::ALLOW, allow.clone());
            }
            e
        } else {
            r
        }
    };
    response
        .headers_mut()
        .insert(PROTOCOL_HEADER, HeaderValue::from(PROTOCOL_VERSION));
    response
}

/// The OpenAPI 3.1 document, built from [`ROUTES`].
pub fn openapi_doc() -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for r in ROUTES {
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{:?}", r.handler),
            "x-lifecert-auth": r.auth,
            "responses": {
                "200": {
                    "description": r.response,
                    "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", r.response)}}}
                },
                "default": {
                    "description": "Error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
                }
            }
        });
        if let Some(req) = r.request
            && let Some(o) = op.as_object_mut()
        {
            o.insert(
                "requestBody".into(),
                json!({
                    "required": true,
                    "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{req}")}}}
                }),
            );
        }
        if r.auth.starts_with("signed")
            && let Some(o) = op.as_object_mut()
        {
            o.insert("security".into(), json!([{"deviceSignature": []}]));
        }
        if let Some(e) = entry.as_object_mut() {
            e.insert(r.method.to_ascii_lowercase(), op);
        }
    }
    let mut schemas = serde_json::Map::new();
    for r in ROUTES {
        for name in r.request.into_iter().chain([r.response]) {
            schemas.insert(
                name.to_owned(),
                json!({"type": "object", "description": format!("lifecert_protocol::{name} (JSON)")}),
            );
        }
    }
    schemas.insert(
        "ErrorBody".into(),
        json!({
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "lifecert central server",
            "version": format!("{PROTOCOL_VERSION}"),
            "description": "Device-signed API for lifecert kiosks (see lifecert_protocol::api)."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "deviceSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-lifecert-signature",
                    "description": "Ed25519 over lifecert_protocol::auth::signing_message, with x-lifecert-device, x-lifecert-timestamp and x-lifecert-nonce"
                }
            }
        }
    })
}
