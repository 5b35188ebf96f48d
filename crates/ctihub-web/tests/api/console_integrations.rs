//! The console's integration settings and actions over plain HTTP: Freshdesk's "New Ticket"
//! option, the softphone slot, click-to-dial, custom fields, and the pop widget's actions on
//! Freshdesk calls. What a browser does with them is tested in Chromium by `ctihub-e2e`.

use ctihub_domain::user::Role;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};

use crate::console_helpers::{FormBody, no_redirects, sign_in};
use crate::helpers::{TestApp, on_each_app};

async fn get_page(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = no_redirects().get(app.url(path)).header(COOKIE, cookie).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn post_form(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    no_redirects().post(app.url(path)).header(COOKIE, cookie).form_body(form).send().await.unwrap()
}

#[tokio::test]
async fn admins_switch_freshdesks_new_ticket_option_on_the_cti_page() {
    on_each_app(async |app| {
        app.user(Role::Agent, "anna@example.com", "anna password").await;
        app.user(Role::Admin, "root@example.com", "root password").await;
        let (root, csrf) = sign_in(app, "root@example.com", "root password").await.unwrap();
        let (anna, anna_csrf) = sign_in(app, "anna@example.com", "anna password").await.unwrap();
        let path = "/console/admin/cti/freshdesk";

        let (_, html) = get_page(app, &root, "/console/admin/cti").await;
        assert!(html.contains(r#"id="freshdesk-new-ticket">"#), "unticked at first: {html}");
        let forged = post_form(app, &root, path, &[("new_ticket", "on")]).await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "no CSRF token, no change");
        let by_agent = post_form(app, &anna, path, &[("csrf", &anna_csrf), ("new_ticket", "on")]).await;
        assert_eq!(by_agent.status(), StatusCode::FORBIDDEN);
        assert!(!ctihub_web::freshdesk::load_config(&app.store).await.unwrap().new_ticket);

        let saved = post_form(app, &root, path, &[("csrf", &csrf), ("new_ticket", "on")]).await;
        assert_eq!(saved.status(), StatusCode::SEE_OTHER);
        assert_eq!(saved.headers()[LOCATION], "/console/admin/cti");
        assert!(ctihub_web::freshdesk::load_config(&app.store).await.unwrap().new_ticket);
        let (_, html) = get_page(app, &root, "/console/admin/cti").await;
        assert!(html.contains(r#"id="freshdesk-new-ticket" checked>"#), "{html}");

        let cleared = post_form(app, &root, path, &[("csrf", &csrf)]).await;
        assert_eq!(cleared.status(), StatusCode::SEE_OTHER);
        assert!(!ctihub_web::freshdesk::load_config(&app.store).await.unwrap().new_ticket);
    })
    .await;
}
