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
