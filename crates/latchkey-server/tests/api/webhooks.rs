//! Connection webhooks: queued as rows, signed, retried until a receiver takes them, logged.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex,
};

use axum::{http::HeaderMap, routing::post, Router};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{TestApp, PROVIDER_KEY};

#[derive(Default)]
pub(crate) struct Receiver {
    pub(crate) calls: AtomicUsize,
    pub(crate) accepted: AtomicUsize,
    pub(crate) received: Mutex<Vec<(HeaderMap, String)>>,
}

/// A receiver that answers 500 to the first `failures` calls and 200 after.
pub(crate) async fn spawn_receiver(failures: usize) -> (String, Arc<Receiver>) {
    let state = Arc::new(Receiver::default());
    let shared = state.clone();
    let router = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let state = shared.clone();
            async move {
                let n = state.calls.fetch_add(1, Ordering::SeqCst);
                state.received.lock().unwrap().push((headers, body));
                if n < failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    state.accepted.fetch_add(1, Ordering::SeqCst);
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}/hook"), state)
}

fn verify(secret: &str, header: &str, body: &str) -> bool {
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes()) == v1
}

#[tokio::test]
async fn a_receiver_that_fails_seven_times_gets_exactly_one_delivery() {
    for db in latchkey_test_db::TestDb::all().await {
        // One schedule "second" is 20 µs here: the seven retries take well under a second.
        let app = TestApp::spawn_with(db, |config, _| config.webhook_retry_unit_us = 20).await;
        let worker = latchkey_server::service::webhooks::spawn_worker(
            app.app.clone(),
            std::time::Duration::from_millis(20),
        );
        let (hook, receiver) = spawn_receiver(7).await;
        let owner = app.workspace("acme").await;
        app.add_demo_app(&owner).await;
        let product = app.product(&owner).await;
        let (_, body) = app
            .connect_call(
                Method::POST,
                &format!("/v1/connect/{}/tokens", product.project),
                &product.token,
                Some("production"),
                Some(json!({"external_user_id": "u1", "webhook_uri": hook})),
            )
            .await;
        let ctok = body["token"].as_str().unwrap().to_owned();
        let session = body["connect_session_id"].as_str().unwrap().to_owned();
        let (status, account) = app
            .connect_call(
                Method::POST,
                "/v1/connect/accounts",
                &ctok,
                None,
                Some(json!({"app_slug": "demo_api", "cfmap_json": json!({"api_key": PROVIDER_KEY}).to_string(), "connect_token": ctok})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{account}");

        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while receiver.accepted.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Give a wrongly repeated delivery the chance to show up.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(
            receiver.calls.load(Ordering::SeqCst),
            8,
            "[{}] 7 failures, then one success",
            app.label
        );
        assert_eq!(receiver.accepted.load(Ordering::SeqCst), 1);

        let (_, settings) = app.get("/v1/webhooks", &owner.key).await;
        let secret = settings["data"]["signing_secret"]
            .as_str()
            .unwrap()
            .to_owned();
        for (headers, body) in receiver.received.lock().unwrap().iter() {
            assert_eq!(headers["x-latchkey-event"], "CONNECTION_SUCCESS");
            assert!(
                verify(
                    &secret,
                    headers["x-latchkey-signature"].to_str().unwrap(),
                    body
                ),
                "signature"
            );
            assert!(
                !body.contains(PROVIDER_KEY) && !body.contains(&ctok),
                "no secrets in webhooks: {body}"
            );
            let payload: Value = serde_json::from_str(body).unwrap();
            assert_eq!(payload["event"], "CONNECTION_SUCCESS");
            assert_eq!(payload["connect_session_id"], session.as_str());
            assert_eq!(payload["environment"], "production");
            assert_eq!(payload["account"]["id"], account["id"]);
            assert_eq!(payload["account"]["external_id"], "u1");
        }

        let (_, log) = app.get("/v1/webhooks/deliveries", &owner.key).await;
        let entry = &log["data"][0];
        assert_eq!(entry["status"], "delivered", "{log}");
        assert_eq!(entry["attempts"], 8);
        assert_eq!(entry["last_status"], 200);

        // A bad key is refused, and reported to the webhook as a CONNECTION_ERROR.
        let (_, body) = app
            .connect_call(
                Method::POST,
                &format!("/v1/connect/{}/tokens", product.project),
                &product.token,
                Some("production"),
                Some(json!({"external_user_id": "u2", "webhook_uri": hook})),
            )
            .await;
        let ctok = body["token"].as_str().unwrap().to_owned();
        let (status, body) = app
            .connect_call(
                Method::POST,
                "/v1/connect/accounts",
                &ctok,
                None,
                Some(json!({"app_slug": "demo_api", "cfmap_json": json!({"api_key": "wrong"}).to_string(), "connect_token": ctok})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while receiver.accepted.load(Ordering::SeqCst) < 2 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let last = receiver.received.lock().unwrap().last().unwrap().1.clone();
        let payload: Value = serde_json::from_str(&last).unwrap();
        assert_eq!(payload["event"], "CONNECTION_ERROR");
        assert!(
            payload["error"].as_str().unwrap().contains("did not work"),
            "{payload}"
        );
        worker.abort();
        app.cleanup().await;
    }
}
