//! End users connect OAuth accounts from the hosted connect page (API.md §8): the flow is bound
//! to a connect token, the account belongs to the token's end user, and the token is spent.

use latchkey_test_db::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{account_id_from, app_with_peer, browser, follow_to_callback};
use crate::helpers::TestApp;

/// Submits the connect page's OAuth form in `browser` and walks the provider to the callback;
/// returns the callback page's status and HTML.
async fn connect_from_page(
    t: &TestApp,
    browser: &reqwest::Client,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let started = browser
        .post(format!("{}/oauth/connect/start", t.base))
        .form(form)
        .send()
        .await
        .unwrap();
    if !started.status().is_redirection() {
        return (started.status(), started.text().await.unwrap());
    }
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let callback =
        follow_to_callback(browser, &location, &format!("{}/oauth/callback", t.base)).await;
    let response = browser.get(callback).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn an_end_user_connects_and_reconnects_an_oauth_account_with_a_connect_token() {
    for db in TestDb::all().await {
        let (t, peer) = app_with_peer(db, &[]).await;
        let owner = t.workspace("acme").await;
        let product = t.product(&owner).await;
        let p = product.project.clone();

        // The hosted page: framed only by the token's origins, no X-Frame-Options.
        let ctok = t.connect_token(&product, "development", "user-9").await;
        let page = t
            .http
            .get(format!(
                "{}/_static/connect.html?token={ctok}&app=peer",
                t.base
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("frame-ancestors https://app.product.test"),
            "{csp}"
        );
        assert!(page.headers().get("x-frame-options").is_none());
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        let html = page.text().await.unwrap();
        assert!(!html.contains(&ctok), "the page does not echo the token");

        let browser = browser();
        let (status, html) =
            connect_from_page(&t, &browser, &[("token", &ctok), ("app", "peer")]).await;
        assert_eq!(status, StatusCode::OK, "[{}] {html}", t.label);
        let account_id = account_id_from(&html);

        // The end user's account, with a working token, reachable through the proxy.
        let (status, account) = t
            .connect_call(
                Method::GET,
                &format!("/v1/connect/{p}/accounts/{account_id}?include_credentials=true"),
                &product.token,
                Some("development"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{account}");
        assert_eq!(account["external_id"], "user-9");
        assert!(account["credentials"]["oauth_access_token"]
            .as_str()
            .is_some());
        assert!(
            account["credentials"].get("oauth_refresh_token").is_none(),
            "decision 3: the operator client's refresh token stays inside"
        );
        assert_eq!(
            super::api_me(
                &peer.issuer,
                account["credentials"]["oauth_access_token"]
                    .as_str()
                    .unwrap()
            )
            .await,
            StatusCode::OK
        );
        let target = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode("/me")
        };
        let (status, me) = t
            .connect_call(
                Method::GET,
                &format!(
                    "/v1/connect/{p}/proxy/{}?external_user_id=user-9&account_id={account_id}",
                    url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
                ),
                &product.token,
                Some("development"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{me}");

        // The token is spent: a second connection with it is refused, and says so.
        let (status, html) =
            connect_from_page(&t, &browser, &[("token", &ctok), ("app", "peer")]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(html.contains("already used"), "{html}");

        // Reconnect in place with a new token: same id, new credentials.
        let ctok2 = t.connect_token(&product, "development", "user-9").await;
        let (status, html) = connect_from_page(
            &t,
            &browser,
            &[
                ("token", &ctok2),
                ("app", "peer"),
                ("account_id", &account_id),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert_eq!(account_id_from(&html), account_id);
        let (_, again) = t
            .connect_call(
                Method::GET,
                &format!("/v1/connect/{p}/accounts/{account_id}?include_credentials=true"),
                &product.token,
                Some("development"),
                None,
            )
            .await;
        assert_ne!(
            again["credentials"]["oauth_access_token"],
            account["credentials"]["oauth_access_token"]
        );
        let (_, listed) = t
            .connect_call(
                Method::GET,
                &format!("/v1/connect/{p}/accounts"),
                &product.token,
                Some("development"),
                None,
            )
            .await;
        assert_eq!(listed["page_info"]["total_count"], 1);

        // Someone else's token cannot reconnect this account.
        let other = t.connect_token(&product, "development", "intruder").await;
        let (status, html) = connect_from_page(
            &t,
            &browser,
            &[
                ("token", &other),
                ("app", "peer"),
                ("account_id", &account_id),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(html.contains("not yours"), "{html}");
        let (status, _) = t
            .post(
                &format!("/v1/connect/{p}/tokens"),
                &product.token,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "x-pd-environment missing");
        t.cleanup().await;
    }
}
