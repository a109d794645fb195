//! The HTTP surface of `serve`: `/metrics`, `/healthz`, `/api/status`.
//!
//! Bound to loopback only (see `http.listen`): the web interface and its login come later.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::metrics::PipelineMetrics;

#[derive(Clone)]
struct App {
    cfg: Arc<Config>,
    catalog: Arc<Catalog>,
    metrics: PipelineMetrics,
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Runs catalog work off the async threads; errors become 500 with the message.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err((StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")).into_response()),
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()),
    }
}

async fn metrics_page(State(app): State<App>) -> Response {
    let body = blocking(move || crate::metrics::render(&app.cfg, &app.catalog, &app.metrics, now_ms())).await;
    match body {
        Ok(text) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            text,
        )
            .into_response(),
        Err(r) => r,
    }
}

async fn healthz(State(app): State<App>) -> Response {
    let problems = blocking(move || {
        let s = app.catalog.summary()?;
        Ok(crate::health::check(&app.cfg, &s, now_ms()))
    })
    .await;
    match problems {
        Ok(p) => {
            let code = if p.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let body = serde_json::json!({
                "status": if p.is_empty() { "ok" } else { "problem" },
                "problems": p.iter().map(|p| serde_json::json!({"rule": p.rule, "message": p.message})).collect::<Vec<_>>(),
            });
            (code, Json(body)).into_response()
        }
        Err(r) => r,
    }
}

async fn status(State(app): State<App>) -> Response {
    match blocking(move || crate::report::status_json(&app.cfg, &app.catalog, now_ms())).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

/// Serves until `stop`.
pub async fn serve(
    cfg: Config,
    catalog: Arc<Catalog>,
    metrics: PipelineMetrics,
    stop: CancellationToken,
) -> Result<()> {
    let addr: SocketAddr = cfg.http.listen.parse().context("`http.listen`")?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on `http.listen` = {addr}: is another program (or camvault) using the port?")
    })?;
    info!(%addr, "HTTP endpoint: /metrics /healthz /api/status");
    let app = App {
        cfg: Arc::new(cfg),
        catalog,
        metrics,
    };
    let router = Router::new()
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(healthz))
        .route("/api/status", get(status))
        .with_state(app);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await?;
    Ok(())
}
