//! The team pages: invitations, roles, API keys and clients, OAuth clients and app requests —
//! what each role is offered, and what the server refuses whatever the page offered.

use reqwest::{redirect::Policy, StatusCode};

use crate::helpers::{on_every_backend, TestApp};

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The CSRF token of a signed-in browser (every page's sign-out form carries it).
async fn csrf_of(app: &TestApp, b: &reqwest::Client) -> String {
    let html = b
        .get(format!("{}/accounts", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .expect("a signed-in page")
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> (reqwest::Client, String) {
    let b = browser();
    let r = b
        .post(format!("{}/login", app.base))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{email}");
    let csrf = csrf_of(app, &b).await;
    (b, csrf)
}

async fn post(
    app: &TestApp,
    b: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let r = b
        .post(format!("{}{path}", app.base))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn get(app: &TestApp, b: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let r = b.get(format!("{}{path}", app.base)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The invitation token in a members page.
fn invite_token(html: &str) -> String {
    html.split("/invite?token=")
        .nth(1)
        .expect("an invitation link")
        .split('<')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn invitations_roles_and_keys_follow_the_roles() {
    on_every_backend(|app| async move {
        let owner = app.workspace("acme").await;
        let (ob, ocsrf) = sign_in(&app, "owner@acme.test", "password123").await;

        // Only well-formed invitations from this site's forms.
        let (status, _) = post(
            &app,
            &ob,
            "/members/invite",
            &[
                ("csrf", "nope"),
                ("email", "bob@acme.test"),
                ("role", "member"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, html) = post(
            &app,
            &ob,
            "/members/invite",
            &[
                ("csrf", &ocsrf),
                ("email", "bob@acme.test"),
                ("role", "owner"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
        let (status, html) = post(
            &app,
            &ob,
            "/members/invite",
            &[
                ("csrf", &ocsrf),
                ("email", "bob@acme.test"),
                ("role", "member"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{html}");
        let first = invite_token(&html);
        // Inviting again before the link was used makes a new link; the old one stops working.
        let (_, html) = post(
            &app,
            &ob,
            "/members/invite",
            &[
                ("csrf", &ocsrf),
                ("email", "bob@acme.test"),
                ("role", "member"),
            ],
        )
        .await;
        let token = invite_token(&html);
        assert_ne!(first, token);

        let bb = browser();
        let (status, _) = post(
            &app,
            &bb,
            "/invite",
            &[("token", &first), ("password", "long enough password")],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a replaced link");
        let (status, html) = post(
            &app,
            &bb,
            "/invite",
            &[("token", &token), ("password", "short")],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
        let r = bb
            .post(format!("{}/invite", app.base))
            .form(&[
                ("token", token.as_str()),
                ("password", "long enough password"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "a short password left the link usable"
        );
        assert_eq!(r.headers()["location"], "/accounts");
        let (status, _) = post(
            &app,
            &browser(),
            "/invite",
            &[("token", &token), ("password", "another long password")],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "single use");
        // Once joined, the invitation cannot be made again.
        let (status, _) = post(
            &app,
            &ob,
            "/members/invite",
            &[
                ("csrf", &ocsrf),
                ("email", "bob@acme.test"),
                ("role", "member"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);

        // Bob, a member: the admin pages are refused, whatever he posts.
        let (bb, bcsrf) = sign_in(&app, "bob@acme.test", "long enough password").await;
        let (_, nav) = get(&app, &bb, "/accounts").await;
        assert!(
            !nav.contains("/oauth-clients") && !nav.contains("/audit"),
            "{nav}"
        );
        for path in ["/oauth-clients", "/app-requests", "/audit"] {
            let (status, _) = get(&app, &bb, path).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        }
        let (status, _) = post(
            &app,
            &bb,
            "/members/invite",
            &[
                ("csrf", &bcsrf),
                ("email", "eve@acme.test"),
                ("role", "admin"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = post(
            &app,
            &bb,
            "/api/clients",
            &[("csrf", &bcsrf), ("name", "mine")],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let members = app
            .app
            .store
            .list_members(&owner.workspace_id)
            .await
            .unwrap();
        let bob = members
            .iter()
            .find(|m| m.email == "bob@acme.test")
            .unwrap()
            .user_id
            .clone();
        let (status, _) = post(
            &app,
            &bb,
            &format!("/members/{bob}/role"),
            &[("csrf", &bcsrf), ("role", "admin")],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // His own API key works against the API, as him.
        let (status, html) = post(&app, &bb, "/api/keys", &[("csrf", &bcsrf)]).await;
        assert_eq!(status, StatusCode::OK);
        let key = html
            .split("id=\"revealed-secret\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned();
        assert!(key.starts_with("lk_key_"), "{key}");
        let (status, body) = app.get("/v1/accounts", &key).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // The owner's role never changes; Bob becomes an admin and gets the admin pages.
        let (status, _) = post(
            &app,
            &ob,
            &format!("/members/{}/role", owner.user_id),
            &[("csrf", &ocsrf), ("role", "member")],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = post(
            &app,
            &ob,
            &format!("/members/{bob}/role"),
            &[("csrf", &ocsrf), ("role", "admin")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = get(&app, &bb, "/oauth-clients").await;
        assert_eq!(status, StatusCode::OK, "the new role applies at once");

        // API clients: the secret once, then only its id; revoking works.
        let (status, html) = post(
            &app,
            &ob,
            "/api/clients",
            &[
                ("csrf", &ocsrf),
                ("name", "billing"),
                ("scopes", "accounts:read"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{html}");
        let secret = html
            .split("id=\"revealed-secret\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned();
        let client_id = html
            .split("id=\"revealed-id\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned();
        assert!(secret.starts_with("lk_cs_"));
        let (_, page) = get(&app, &ob, "/api").await;
        assert!(page.contains(&client_id) && !page.contains(&secret));
        let (status, _) = post(
            &app,
            &ob,
            &format!("/api/clients/{client_id}/revoke"),
            &[("csrf", &ocsrf)],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (_, page) = get(&app, &ob, "/api").await;
        assert!(page.contains("revoked"));
        app
    })
    .await;
}

#[tokio::test]
async fn oauth_clients_are_write_only_and_app_requests_reach_admins() {
    on_every_backend(|app| async move {
        let _owner = app.workspace("acme").await;
        let (ob, ocsrf) = sign_in(&app, "owner@acme.test", "password123").await;
        let (status, page) = get(&app, &ob, "/oauth-clients").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains(&format!("{}/oauth/callback", app.base)),
            "the redirect URI to register"
        );
        assert!(
            page.contains("The server has no default OAuth clients"),
            "{page}"
        );
        let (status, page) = post(
            &app,
            &ob,
            "/oauth-clients",
            &[
                ("csrf", &ocsrf),
                ("app", "github"),
                ("client_id", "Iv1.abc"),
                ("client_secret", "s3cr3t-value-123"),
                ("scopes", "repo read:user"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(
            page.contains("Iv1.abc") && page.contains("repo read:user"),
            "{page}"
        );
        assert!(
            !page.contains("s3cr3t-value-123"),
            "the secret is write-only"
        );
        let (status, page) = post(
            &app,
            &ob,
            "/oauth-clients",
            &[
                ("csrf", &ocsrf),
                ("app", "github"),
                ("client_id", "Iv1.abc"),
            ],
        )
        .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "a secret is required: {page}"
        );
        let id = page
            .split("/oauth-clients/")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let (status, page) = post(
            &app,
            &ob,
            &format!("/oauth-clients/{id}/delete"),
            &[("csrf", &ocsrf)],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(!page.contains("Iv1.abc"));

        let (status, page) = post(
            &app,
            &ob,
            "/connect/request",
            &[
                ("csrf", &ocsrf),
                ("name", "Linear"),
                ("url", "javascript:alert(1)"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
        let (status, _) = post(
            &app,
            &ob,
            "/connect/request",
            &[
                ("csrf", &ocsrf),
                ("name", "Linear"),
                ("url", "https://linear.app"),
                ("note", "for <triage>"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (_, page) = get(&app, &ob, "/app-requests").await;
        assert!(
            page.contains("Linear")
                && page.contains("for &#60;triage&#62;")
                && page.contains("owner@acme.test"),
            "{page}"
        );
        app
    })
    .await;
}
