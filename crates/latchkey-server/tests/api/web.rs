//! The web UI's foundation: sign-in, sessions, CSRF, the accounts page.

use reqwest::{redirect::Policy, StatusCode};

use crate::helpers::{on_every_backend, PROVIDER_KEY};

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn sign_in_see_the_accounts_and_sign_out() {
    on_every_backend(|app| async move {
        let owner = app.workspace("acme").await;
        app.add_demo_app(&owner).await;
        let member = app
            .member(&owner, "ada@acme.test", latchkey_domain::role::Role::Member)
            .await;
        app.connect(&owner, "Owner's <b>key</b>", PROVIDER_KEY)
            .await;
        app.connect(&member, "not shared", PROVIDER_KEY).await;
        let b = browser();

        // Without a session every page sends you to sign in.
        let r = b
            .get(format!("{}/accounts", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/login");
        let r = b.get(format!("{}/login", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        assert!(r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        let html = r.text().await.unwrap();
        assert!(html.contains(r#"type="email""#) && html.contains(r#"type="password""#));

        // Wrong password, unknown email: the same refusal.
        for (email, password) in [
            ("owner@acme.test", "wrong"),
            ("nobody@acme.test", "password123"),
        ] {
            let r = b
                .post(format!("{}/login", app.base))
                .form(&[("email", email), ("password", password)])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{email}");
            assert!(r
                .text()
                .await
                .unwrap()
                .contains("The email or password is wrong."));
        }
        // A sign-in posted from another site is refused.
        let r = b
            .post(format!("{}/login", app.base))
            .header("origin", "https://evil.test")
            .form(&[("email", "owner@acme.test"), ("password", "password123")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);

        let r = b
            .post(format!("{}/login", app.base))
            .form(&[("email", "Owner@Acme.test"), ("password", "password123")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/accounts");
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );

        let r = b
            .get(format!("{}/accounts", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("Owner&#39;s &#60;b&#62;key&#60;/b&#62;")
                || html.contains("Owner&#x27;s &lt;b&gt;key&lt;/b&gt;"),
            "names are escaped: {html}"
        );
        // Admins see their members' private accounts too (the matrix: view, not use).
        assert!(html.contains("not shared"));
        assert!(!html.contains(PROVIDER_KEY), "no secrets in pages");
        assert!(html.contains("2 accounts"));

        // Signing out needs the form's CSRF token.
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let r = b
            .post(format!("{}/logout", app.base))
            .form(&[("csrf", "forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = b
            .post(format!("{}/logout", app.base))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let r = b
            .get(format!("{}/accounts", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "the session is gone");
        app
    })
    .await;
}

/// Signs in as the workspace owner; returns the browser and the page's CSRF token.
async fn sign_in_owner(app: &crate::helpers::TestApp) -> (reqwest::Client, String) {
    let b = browser();
    let r = b
        .post(format!("{}/login", app.base))
        .form(&[("email", "owner@acme.test"), ("password", "password123")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = b
        .get(format!("{}/accounts", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    (b, csrf)
}

#[tokio::test]
async fn rename_share_and_delete_from_the_account_page() {
    on_every_backend(|app| async move {
        let owner = app.workspace("acme").await;
        app.add_demo_app(&owner).await;
        let member = app
            .member(&owner, "ada@acme.test", latchkey_domain::role::Role::Member)
            .await;
        let mine = app.connect(&owner, "mine", PROVIDER_KEY).await;
        let (b, csrf) = sign_in_owner(&app).await;
        let page = |id: String| {
            let b = b.clone();
            let base = app.base.clone();
            async move {
                b.get(format!("{base}/accounts/{id}"))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        let html = page(mine.clone()).await;
        assert!(
            html.contains("Rename")
                && html.contains("Manage access")
                && html.contains("Delete account")
        );
        assert!(html.contains(&mine), "the account id is shown to copy");

        let post = |path: String, body: String| {
            let b = b.clone();
            let base = app.base.clone();
            async move {
                let r = b
                    .post(format!("{base}{path}"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (r.status(), r.text().await.unwrap())
            }
        };
        let (status, _) = post(
            format!("/accounts/{mine}/rename"),
            "csrf=forged&name=x".into(),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, html) = post(
            format!("/accounts/{mine}/rename"),
            format!("csrf={csrf}&name=Renamed+here"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("Renamed here") && html.contains("Renamed."));

        // Share with one member (a repeated field), then check through the API.
        let (status, html) = post(
            format!("/accounts/{mine}/access"),
            format!("csrf={csrf}&mode=members&member_ids={}", member.user_id),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{html}");
        let (_, access) = app
            .get(&format!("/v1/accounts/{mine}/access"), &owner.key)
            .await;
        assert_eq!(access["data"]["mode"], "members");
        assert_eq!(access["data"]["member_ids"][0], member.user_id.as_str());
        let (status, html) = post(
            format!("/accounts/{mine}/access"),
            format!("csrf={csrf}&mode=members"),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "members without anyone: {html}"
        );

        // Delete needs the confirmation box.
        let (status, _) = post(format!("/accounts/{mine}/delete"), format!("csrf={csrf}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let r = b
            .post(format!("{}/accounts/{mine}/delete", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}&confirm=yes"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (status, _) = app.get(&format!("/v1/accounts/{mine}"), &owner.key).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let r = b
            .get(format!("{}/accounts/{mine}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        app
    })
    .await;
}

#[tokio::test]
async fn connect_an_app_from_the_picker() {
    on_every_backend(|app| async move {
        let owner = app.workspace("acme").await;
        app.add_demo_app(&owner).await;
        let (b, csrf) = sign_in_owner(&app).await;
        let html = b
            .get(format!("{}/connect?q=demo", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("href=\"/connect/demo_api\""), "{html}");
        assert!(
            !html.contains("href=\"/connect/github\""),
            "search narrows the list"
        );
        let html = b
            .get(format!("{}/connect?category=Developer%20Tools", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("/connect/demo_api"));

        // The key form is built from the app's fields; the check's result is shown.
        let html = b
            .get(format!("{}/connect/demo_api", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains(r#"name="field.api_key" type="password""#),
            "{html}"
        );
        let r = b
            .post(format!("{}/connect/demo_api", app.base))
            .form(&[
                ("csrf", csrf.as_str()),
                ("nickname", "From the UI"),
                ("field.api_key", PROVIDER_KEY),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.ends_with("?connected=ok"), "{location}");
        let html = b
            .get(format!("{}{location}", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("Connected.") && html.contains("From the UI"),
            "{html}"
        );
        let r = b
            .post(format!("{}/connect/demo_api", app.base))
            .form(&[("csrf", csrf.as_str()), ("field.api_key", "wrong")])
            .send()
            .await
            .unwrap();
        // A key that fails its check is refused in the form; nothing is saved.
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let html = r.text().await.unwrap();
        assert!(html.contains("The credentials did not work"), "{html}");
        let (_, listed) = app.get("/v1/accounts", &owner.key).await;
        assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");

        // An OAuth app without a configured client says so instead of failing at the provider.
        let html = b
            .get(format!("{}/connect/github", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("id=\"oauth-start\""));
        let r = b
            .post(format!("{}/connect/github/oauth", app.base))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("no OAuth client configured"));
        app
    })
    .await;
}

#[tokio::test]
async fn the_first_run_link_creates_the_first_workspace_once() {
    on_every_backend(|app| async move {
        let link = latchkey_server::web::setup::setup_link(&app.app)
            .await
            .unwrap()
            .expect("no workspace yet");
        let token = link.split("token=").nth(1).unwrap().to_owned();
        let b = browser();
        let r = b.get(&link).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = b
            .get(format!("{}/setup?token=wrong", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let form = |password: &str| {
            vec![
                ("token", token.clone()),
                ("workspace", "First".to_owned()),
                ("email", "founder@first.test".to_owned()),
                ("password", password.to_owned()),
            ]
        };
        let r = b
            .post(format!("{}/setup", app.base))
            .form(&form("short"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = b
            .post(format!("{}/setup", app.base))
            .form(&form("a long enough password"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/accounts");
        let r = b
            .get(format!("{}/accounts", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "signed in as the new owner");
        assert!(r.text().await.unwrap().contains("founder@first.test"));
        // Used up, and no new link once a workspace exists.
        let r = b.get(&link).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            latchkey_server::web::setup::setup_link(&app.app)
                .await
                .unwrap(),
            None
        );
        app
    })
    .await;
}

#[tokio::test]
async fn admins_read_the_audit_log_with_filters() {
    on_every_backend(|app| async move {
        let owner = app.workspace("acme").await;
        app.add_demo_app(&owner).await;
        let id = app.connect(&owner, "audited", PROVIDER_KEY).await;
        let _ = app
            .get(
                &format!("/v1/accounts/{id}?include_credentials=1"),
                &owner.key,
            )
            .await;
        let (b, _) = sign_in_owner(&app).await;
        let html = b
            .get(format!("{}/accounts", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("href=\"/audit\""), "admins get the link");
        let html = b
            .get(format!("{}/audit", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("account.connect") && html.contains("credentials.read"),
            "{html}"
        );
        let html = b
            .get(format!("{}/audit?action=credentials.read", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("credentials.read") && !html.contains(">account.connect<"),
            "{html}"
        );
        assert!(!html.contains(PROVIDER_KEY));
        app
    })
    .await;
}
