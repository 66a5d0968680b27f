//! Province administration: targets with their monthly plan for the selected region and year,
//! users (create, change role/region/villages, disable, reset password), and service accounts for
//! other systems (create, keys made and revoked).

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::auth::Role;
use shared::console::{NewUser, UserUpdate, UserView};
use shared::region::RegionCode;
use shared::target::{Target, TargetMetric};
use shared::{ApiError, UserId};

use super::{Crumbs, cctx};
use crate::http;
use crate::i18n::{error_text, role_label};

const ROLES: [Role; 6] = [
    Role::Inspector,
    Role::TownshipReviewer,
    Role::CountyViewer,
    Role::PrefectureViewer,
    Role::ProvinceViewer,
    Role::ProvinceAdmin,
];

fn codes(s: &str) -> Result<Vec<RegionCode>, String> {
    s.split([',', '，', ' ', '\n'])
        .filter(|x| !x.trim().is_empty())
        .map(|x| RegionCode::parse(x.trim()).map_err(|e| format!("{x}: {e}")))
        .collect()
}

/// An error with its field messages, in the current language.
fn describe(lang: crate::i18n::Lang, e: &ApiError) -> String {
    if e.fields.is_empty() {
        e.message.clone()
    } else {
        e.fields
            .iter()
            .map(|f| format!("{}: {}", f.field, error_text(lang, f)))
            .collect::<Vec<_>>()
            .join("；")
    }
}

#[component]
pub fn Admin() -> impl IntoView {
    view! {
        <Crumbs/>
        <Targets/>
        <Users/>
        <ServiceAccounts/>
        <Webhooks/>
        <AuditLog/>
    }
}

/// The audit log's head, to be written down outside the server.
#[component]
fn AuditLog() -> impl IntoView {
    let ctx = cctx();
    let head = RwSignal::new(None::<shared::console::AuditHead>);
    spawn_local(async move {
        match http::audit_head().await {
            Ok(h) => head.set(Some(h)),
            Err(e) => ctx.fail(e),
        }
    });
    view! {
        <section class="card" id="audit-head">
            <h3>{move || ctx.t("audit_head")}</h3>
            <p class="muted small">{move || ctx.t("audit_head_help")}</p>
            {move || head.get().map(|h| view! {
                <p><code id="audit-head-value" class="hash">{format!("{}:{}", h.seq, h.hash)}</code></p>
            })}
        </section>
    }
}

#[component]
fn Targets() -> impl IntoView {
    let ctx = cctx();
    let year = RwSignal::new(crate::i18n::now().to_offset(time::macros::offset!(+8)).year());
    let values = RwSignal::new(std::collections::HashMap::<TargetMetric, (String, String)>::new());
    let msg = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let (Some(region), y) = (ctx.region(), year.get()) else { return };
        spawn_local(async move {
            match http::targets(&region, y).await {
                Ok(ts) => values.set(
                    ts.into_iter()
                        .map(|t| {
                            (
                                t.metric,
                                (
                                    t.value.to_string(),
                                    t.monthly_plan
                                        .iter()
                                        .map(|p| format!("{p}"))
                                        .collect::<Vec<_>>()
                                        .join(","),
                                ),
                            )
                        })
                        .collect(),
                ),
                Err(e) => ctx.fail(e),
            }
        });
    });
    let save = move |m: TargetMetric| {
        let Some(region) = ctx.region() else { return };
        let (v, plan) = values.with_untracked(|x| x.get(&m).cloned().unwrap_or_default());
        let plan: Result<Vec<f64>, _> = plan.split([',', '，']).map(|p| p.trim().parse::<f64>()).collect();
        let (Ok(value), Ok(monthly_plan)) = (v.trim().parse::<f64>(), plan) else {
            msg.set(Some(ctx.t("monthly_plan").into()));
            return;
        };
        let t = Target { year: year.get_untracked(), region, metric: m, value, monthly_plan };
        spawn_local(async move {
            match http::put_target(&t).await {
                Ok(_) => {
                    msg.set(Some(ctx.t("saved").into()));
                    ctx.changed.update(|c| *c += 1);
                }
                Err(e) => msg.set(Some(describe(ctx.lang.get_untracked(), &e))),
            }
        });
    };
    let metric_row = move |m: TargetMetric, label: &'static str| {
        let get = move |i: usize| {
            values.with(|x| {
                x.get(&m).map(|v| if i == 0 { v.0.clone() } else { v.1.clone() }).unwrap_or_default()
            })
        };
        let set = move |i: usize, s: String| {
            values.update(|x| {
                let e = x.entry(m).or_default();
                if i == 0 { e.0 = s } else { e.1 = s }
            })
        };
        view! {
            <tr data-metric=m.as_str()>
                <th>{move || ctx.t(label)}</th>
                <td><input class="t-value" prop:value=move || get(0) on:input=move |ev| set(0, event_target_value(&ev))/></td>
                <td><input class="t-plan" prop:value=move || get(1) on:input=move |ev| set(1, event_target_value(&ev))/></td>
                <td><button class="primary" on:click=move |_| save(m)>{move || ctx.t("save")}</button></td>
            </tr>
        }
    };
    view! {
        <section class="card" id="targets">
            <h3>{move || ctx.t("targets")}</h3>
            <div class="row"><div><label for="t-year">{move || ctx.t("year")}</label>
                <input id="t-year" type="number" prop:value=move || year.get().to_string()
                    on:change=move |ev| if let Ok(y) = event_target_value(&ev).parse() { year.set(y) }/></div></div>
            <table class="table">
                <thead><tr><th></th><th>{move || ctx.t("target")}</th><th>{move || ctx.t("monthly_plan")}</th><th></th></tr></thead>
                <tbody>
                    {metric_row(TargetMetric::VillagesRemediated, "villages_remediated")}
                    {metric_row(TargetMetric::WaterBodiesEliminated, "water_eliminated")}
                    {metric_row(TargetMetric::SewageTreatmentRate, "sewage_rate")}
                </tbody>
            </table>
            {move || msg.get().map(|m| view! { <p id="targets-msg">{m}</p> })}
        </section>
    }
}

#[component]
fn Users() -> impl IntoView {
    let ctx = cctx();
    let users = RwSignal::new(Vec::<UserView>::new());
    let reload = move || {
        spawn_local(async move {
            match http::users().await {
                Ok(u) => users.set(u),
                Err(e) => ctx.fail(e),
            }
        })
    };
    reload();
    let msg = RwSignal::new(None::<String>);
    let (username, name, role, region, password, villages) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(Role::Inspector),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let create = move |_| {
        let lang = ctx.lang.get_untracked();
        let region = match RegionCode::parse(region.get_untracked().trim()) {
            Ok(r) => r,
            Err(e) => return msg.set(Some(format!("{}: {e}", ctx.t("region")))),
        };
        let villages = match codes(&villages.get_untracked()) {
            Ok(v) => v,
            Err(e) => return msg.set(Some(e)),
        };
        let u = NewUser {
            username: username.get_untracked(),
            display_name: name.get_untracked(),
            role: role.get_untracked(),
            region,
            password: password.get_untracked(),
            villages,
        };
        spawn_local(async move {
            match http::create_user(&u).await {
                Ok(v) => {
                    msg.set(Some(format!("{} {}", ctx.t("saved"), v.user.username)));
                    reload();
                }
                Err(e) => msg.set(Some(describe(lang, &e))),
            }
        });
    };
    let update = move |id: UserId, u: UserUpdate| {
        let lang = ctx.lang.get_untracked();
        spawn_local(async move {
            match http::update_user(id, &u).await {
                Ok(_) => {
                    msg.set(Some(ctx.t("saved").into()));
                    reload();
                }
                Err(e) => msg.set(Some(describe(lang, &e))),
            }
        });
    };
    view! {
        <section class="card" id="users">
            <h3>{move || ctx.t("users")}</h3>
            {move || msg.get().map(|m| view! { <p id="users-msg">{m}</p> })}
            <table class="table">
                <thead><tr><th>{move || ctx.t("username")}</th><th>{move || ctx.t("display_name")}</th><th>{move || ctx.t("role")}</th>
                    <th>{move || ctx.t("region")}</th><th>{move || ctx.t("village")}</th><th></th></tr></thead>
                <tbody>{move || {
                    let lang = ctx.lang.get();
                    users.get().into_iter().map(|u| {
                        let id = u.user.id;
                        let disabled = u.disabled;
                        view! {
                            <tr class:muted=disabled data-user=u.user.username.clone()>
                                <td>{u.user.username.clone()}</td>
                                <td>{u.user.display_name.clone()}</td>
                                <td>{role_label(lang, u.user.role)}</td>
                                <td>{u.user.region.to_string()}</td>
                                <td>{u.villages.len()}</td>
                                <td><button class=if disabled { "" } else { "danger" } on:click=move |_| update(id, UserUpdate { disabled: Some(!disabled), ..Default::default() })>
                                    {if disabled { ctx.t("enable") } else { ctx.t("disable") }}
                                </button></td>
                            </tr>
                        }
                    }).collect_view()
                }}</tbody>
            </table>
            <h3>{move || ctx.t("new_user")}</h3>
            <div class="grid">
                <div><label for="u-name">{move || ctx.t("username")}</label><input id="u-name" on:input=move |ev| username.set(event_target_value(&ev))/></div>
                <div><label for="u-display">{move || ctx.t("display_name")}</label><input id="u-display" on:input=move |ev| name.set(event_target_value(&ev))/></div>
                <div><label for="u-role">{move || ctx.t("role")}</label>
                    <select id="u-role" on:change=move |ev| if let Some(r) = Role::parse(&event_target_value(&ev)) { role.set(r) }>
                        {ROLES.iter().map(|r| { let r = *r; view! { <option value=r.as_str()>{move || role_label(ctx.lang.get(), r)}</option> } }).collect_view()}
                    </select></div>
                <div><label for="u-region">{move || ctx.t("region")}</label><input id="u-region" on:input=move |ev| region.set(event_target_value(&ev))/></div>
                <div><label for="u-password">{move || ctx.t("password")}</label><input id="u-password" type="password" autocomplete="new-password" on:input=move |ev| password.set(event_target_value(&ev))/></div>
                <div><label for="u-villages">{move || ctx.t("villages")}</label><input id="u-villages" on:input=move |ev| villages.set(event_target_value(&ev))/></div>
            </div>
            <p><button id="create-user" class="primary" on:click=create>{move || ctx.t("create")}</button></p>
        </section>
    }
}

/// Service accounts for other systems: read-only roles, API keys shown once when made.
#[component]
fn ServiceAccounts() -> impl IntoView {
    use shared::integration::{NewServiceAccount, ServiceAccountView};
    let ctx = cctx();
    let accounts = RwSignal::new(Vec::<ServiceAccountView>::new());
    let reload = move || {
        spawn_local(async move {
            match http::service_accounts().await {
                Ok(a) => accounts.set(a),
                Err(e) => ctx.fail(e),
            }
        })
    };
    reload();
    let msg = RwSignal::new(None::<String>);
    // The key just made: shown until the page is left, never again.
    let fresh_key = RwSignal::new(None::<String>);
    let (username, name, purpose, role, region) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(Role::ProvinceViewer),
        RwSignal::new(String::new()),
    );
    let create = move |_| {
        let lang = ctx.lang.get_untracked();
        let region = match RegionCode::parse(region.get_untracked().trim()) {
            Ok(r) => r,
            Err(e) => return msg.set(Some(format!("{}: {e}", ctx.t("region")))),
        };
        let a = NewServiceAccount {
            username: username.get_untracked(),
            display_name: name.get_untracked(),
            purpose: purpose.get_untracked(),
            role: role.get_untracked(),
            region,
            key_days: None,
        };
        spawn_local(async move {
            match http::create_service_account(&a).await {
                Ok(made) => {
                    msg.set(Some(format!("{} {}", ctx.t("saved"), made.account.user.username)));
                    fresh_key.set(Some(made.key.key));
                    reload();
                }
                Err(e) => msg.set(Some(describe(lang, &e))),
            }
        });
    };
    let new_key = move |id: UserId| {
        let lang = ctx.lang.get_untracked();
        spawn_local(async move {
            match http::create_api_key(id).await {
                Ok(k) => {
                    fresh_key.set(Some(k.key));
                    reload();
                }
                Err(e) => msg.set(Some(describe(lang, &e))),
            }
        });
    };
    let revoke = move |id: UserId, key_id: String| {
        let lang = ctx.lang.get_untracked();
        spawn_local(async move {
            match http::revoke_api_key(id, &key_id).await {
                Ok(()) => {
                    msg.set(Some(ctx.t("revoked").into()));
                    reload();
                }
                Err(e) => msg.set(Some(describe(lang, &e))),
            }
        });
    };
    let fmt = |t: time::OffsetDateTime| shared::clock::beijing(t).chars().take(10).collect::<String>();
    view! {
        <section class="card" id="service-accounts">
            <h3>{move || ctx.t("service_accounts")}</h3>
            <p class="muted small">{move || ctx.t("service_accounts_help")}</p>
            {move || msg.get().map(|m| view! { <p id="sa-msg">{m}</p> })}
            {move || fresh_key.get().map(|k| view! {
                <p class="notice">{move || ctx.t("key_once")}" "<code id="sa-new-key" class="hash">{k}</code></p>
            })}
            <table class="table">
                <thead><tr><th>{move || ctx.t("username")}</th><th>{move || ctx.t("role")}</th><th>{move || ctx.t("region")}</th>
                    <th>{move || ctx.t("purpose")}</th><th>{move || ctx.t("keys")}</th><th></th></tr></thead>
                <tbody>{move || {
                    let lang = ctx.lang.get();
                    accounts.get().into_iter().map(|a| {
                        let id = a.user.id;
                        let keys = a.keys.into_iter().map(|k| {
                            let key_id = k.id.clone();
                            let label = format!("{}… {} {}", &k.id[k.id.len().saturating_sub(6)..], ctx.t("expires"), fmt(k.expires_at));
                            view! {
                                <div class="key" class:muted=k.revoked data-key=k.id.clone()>
                                    <code>{label}</code>" "
                                    {if k.revoked {
                                        view! { <span class="badge">{ctx.t("revoked")}</span> }.into_any()
                                    } else {
                                        view! { <button class="danger small" on:click=move |_| revoke(id, key_id.clone())>{ctx.t("revoke")}</button> }.into_any()
                                    }}
                                </div>
                            }
                        }).collect_view();
                        view! {
                            <tr class:muted=a.disabled data-account=a.user.username.clone()>
                                <td>{a.user.username.clone()}<br/><span class="muted small">{a.user.display_name.clone()}</span></td>
                                <td>{role_label(lang, a.user.role)}</td>
                                <td>{a.user.region.to_string()}</td>
                                <td class="small">{a.purpose.clone()}</td>
                                <td>{keys}</td>
                                <td><button class="new-key" disabled=a.disabled on:click=move |_| new_key(id)>{ctx.t("new_key")}</button></td>
                            </tr>
                        }
                    }).collect_view()
                }}</tbody>
            </table>
            <h3>{move || ctx.t("new_service_account")}</h3>
            <div class="grid">
                <div><label for="sa-name">{move || ctx.t("username")}</label><input id="sa-name" on:input=move |ev| username.set(event_target_value(&ev))/></div>
                <div><label for="sa-display">{move || ctx.t("display_name")}</label><input id="sa-display" on:input=move |ev| name.set(event_target_value(&ev))/></div>
                <div><label for="sa-role">{move || ctx.t("role")}</label>
                    <select id="sa-role" on:change=move |ev| if let Some(r) = Role::parse(&event_target_value(&ev)) { role.set(r) }>
                        {Role::SERVICE.iter().rev().map(|r| { let r = *r; view! { <option value=r.as_str()>{move || role_label(ctx.lang.get(), r)}</option> } }).collect_view()}
                    </select></div>
                <div><label for="sa-region">{move || ctx.t("region")}</label><input id="sa-region" on:input=move |ev| region.set(event_target_value(&ev))/></div>
                <div><label for="sa-purpose">{move || ctx.t("purpose")}</label><input id="sa-purpose" on:input=move |ev| purpose.set(event_target_value(&ev))/></div>
            </div>
            <p><button id="create-service-account" class="primary" on:click=create>{move || ctx.t("create")}</button></p>
        </section>
    }
}

/// Every subscription of the connected systems and how its deliveries stand.
#[component]
fn Webhooks() -> impl IntoView {
    use shared::integration::{WebhookState, WebhookView};
    let ctx = cctx();
    let hooks = RwSignal::new(Vec::<WebhookView>::new());
    let reload = move || {
        spawn_local(async move {
            match http::webhooks().await {
                Ok(h) => hooks.set(h),
                Err(e) => ctx.fail(e),
            }
        })
    };
    reload();
    let remove = move |id: String| {
        spawn_local(async move {
            match http::delete_webhook(&id).await {
                Ok(()) => reload(),
                Err(e) => ctx.fail(e),
            }
        })
    };
    view! {
        <section class="card" id="webhooks">
            <h3>{move || ctx.t("webhooks")}" "<button class="small" id="webhooks-reload" on:click=move |_| reload()>"↻"</button></h3>
            <p class="muted small">{move || ctx.t("webhooks_help")}</p>
            <table class="table">
                <thead><tr><th>"URL"</th><th>{move || ctx.t("events")}</th><th>{move || ctx.t("status")}</th>
                    <th>{move || ctx.t("delivered")}</th><th>{move || ctx.t("given_up")}</th><th>{move || ctx.t("last_error")}</th><th></th></tr></thead>
                <tbody>{move || hooks.get().into_iter().map(|h| {
                    let id = h.id.clone();
                    let failing = h.state == WebhookState::Failing;
                    let events = h
                        .events
                        .iter()
                        .map(|e| match e {
                            shared::integration::ChangeKind::Version => ctx.t("ev_version"),
                            shared::integration::ChangeKind::Review => ctx.t("ev_review"),
                            shared::integration::ChangeKind::Site => ctx.t("ev_site"),
                        })
                        .collect::<Vec<_>>()
                        .join("、");
                    view! {
                        <tr data-webhook=h.id.clone() data-state=if failing { "failing" } else { "delivering" }>
                            <td class="small"><code>{h.url.clone()}</code></td>
                            <td class="small">{events}</td>
                            <td><span class="badge" class:refused=failing class:approved=!failing>
                                {if failing { ctx.t("wh_failing") } else { ctx.t("wh_delivering") }}
                                {(h.attempts > 0).then(|| format!(" ×{}", h.attempts))}
                            </span></td>
                            <td class="num">{h.delivered}</td>
                            <td class="num">{h.given_up}</td>
                            <td class="small">{h.last_error.clone().unwrap_or_default()}</td>
                            <td><button class="danger small" on:click=move |_| remove(id.clone())>{ctx.t("delete")}</button></td>
                        </tr>
                    }
                }).collect_view()}</tbody>
            </table>
        </section>
    }
}
