//! One record for review: typed fields, photos (zoomable), the position beside the site's
//! registered position with the distance, flags, versions with what changed, the audit trail,
//! and the decision (keyboard: A approve, R return, J reject, Esc back).

use std::collections::HashMap;

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::InspectionId;
use shared::auth::Role;
use shared::console::RecordDetail;
use shared::documents::DocumentCheck;
use shared::flags::Flag;
use shared::geo::{LngLat, distance_m};
use shared::review::{ReviewDecision, ReviewStatus};
use shared::sync::ReviewRequest;

use super::{View, cctx, typing_in_field};
use crate::http;
use crate::i18n::{field_label, field_value, flag_text, kind_label, review_status_label};
use crate::map::MiniMap;

#[component]
pub fn Detail(id: InspectionId) -> impl IntoView {
    let ctx = cctx();
    let detail = RwSignal::new(None::<RecordDetail>);
    let photos = RwSignal::new(HashMap::<String, String>::new());
    let zoom = RwSignal::new(None::<(String, bool)>);
    let comment = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    spawn_local(async move {
        match http::record(id).await {
            Ok(d) => {
                let mut shas: Vec<String> =
                    d.record.inspection.photos.iter().map(|p| p.sha256.clone()).collect();
                // The other record's photo behind each reuse flag, to show side by side.
                shas.extend(d.flags.iter().filter_map(|f| match f {
                    Flag::PhotoReuse { other_sha256, .. } => Some(other_sha256.clone()),
                    _ => None,
                }));
                shas.sort();
                shas.dedup();
                detail.set(Some(d));
                for sha in shas {
                    if let Ok(url) = http::photo_url(&sha).await {
                        photos.update(|m| {
                            m.insert(sha, url);
                        });
                    }
                }
            }
            Err(e) => ctx.fail(e),
        }
    });
    on_cleanup(move || {
        for url in photos.get_untracked().values() {
            let _ = web_sys::Url::revoke_object_url(url);
        }
    });

    let can_decide = move || {
        ctx.role() == Some(Role::TownshipReviewer)
            && detail.with(|d| d.as_ref().is_some_and(|d| d.record.status == ReviewStatus::Submitted))
    };
    let decide = move |decision: ReviewDecision| {
        if busy.get_untracked() || !can_decide() {
            return;
        }
        let text = comment.get_untracked().trim().to_string();
        match decision {
            ReviewDecision::Return if text.is_empty() => {
                return local_error.set(Some(ctx.t("comment_required").into()));
            }
            ReviewDecision::Reject if text.is_empty() => {
                return local_error.set(Some(ctx.t("reason_required").into()));
            }
            _ => local_error.set(None),
        }
        let Some(version) = detail.with_untracked(|d| d.as_ref().map(|d| d.record.inspection.version)) else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            match http::review(id, &ReviewRequest { version, decision, comment: text }).await {
                Ok(r) => {
                    ctx.changed.update(|c| *c += 1);
                    ctx.go(View::Queue);
                    ctx.notice.set(Some(format!(
                        "{}：{}",
                        ctx.t("reviewed"),
                        review_status_label(ctx.lang.get_untracked(), r.status)
                    )));
                }
                Err(e) => {
                    local_error.set(Some(e.message.clone()));
                    if !e.fields.is_empty() {
                        local_error.set(Some(
                            e.fields.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("；"),
                        ));
                    }
                }
            }
            busy.set(false);
        });
    };
    let on_key = move |ev: KeyboardEvent| {
        let in_text = typing_in_field(&ev);
        match ev.key().as_str() {
            "Escape" if zoom.get_untracked().is_some() => zoom.set(None),
            "Escape" => ctx.go(View::Queue),
            _ if in_text => return,
            "a" => decide(ReviewDecision::Approve),
            "r" => decide(ReviewDecision::Return),
            "j" => decide(ReviewDecision::Reject),
            _ => return,
        }
        ev.prevent_default();
    };

    view! {
        <section id="record" tabindex="0" on:keydown=on_key>
            <p><button id="back" on:click=move |_| ctx.go(View::Queue)>{move || format!("← {}", ctx.t("back"))}</button></p>
            {move || detail.get().map(|d| {
                let lang = ctx.lang.get();
                let i = d.record.inspection.clone();
                let site_pos = d.site.as_ref().and_then(|s| s.position);
                let rec_pos = i.position.as_ref().map(|p| p.point);
                let dist = match (site_pos, rec_pos) {
                    (Some(a), Some(b)) => Some(distance_m(a, b)),
                    _ => None,
                };
                let photo_pts: Vec<LngLat> = i.photos.iter().filter_map(|p| p.exif_position).collect();
                let versions = d.versions.clone();
                view! {
                    <div class="card">
                        <h2 id="record-title">{format!("{} · {}", d.site.as_ref().map(|s| s.name.clone()).unwrap_or_default(), kind_label(lang, i.kind()))}</h2>
                        <p class="row">
                            <span><span id="record-status" class=format!("badge {}", d.record.status.as_str())>{review_status_label(lang, d.record.status)}</span></span>
                            <span>{format!("{} {}", ctx.t("version"), i.version)}</span>
                            <span>{format!("{} {}", ctx.t("received"), shared::clock::beijing(d.record.received_at))}</span>
                        </p>
                        {d.record.review.clone().map(|r| view! { <p class="banner returned">{format!("{}：{}", r.reviewer_name, r.comment)}</p> })}
                    </div>
                    <div class="cols">
                        <div class="card">
                            <h3>{move || ctx.t("flags")}</h3>
                            {if d.flags.is_empty() {
                                view! { <p class="muted" id="flags">{ctx.t("no_flags")}</p> }.into_any()
                            } else {
                                view! { <ul id="flags" class="flags">{d.flags.iter().map(|f| view! { <li class="warn" data-flag=f.kind()>{flag_text(lang, f)}</li> }).collect_view()}</ul> }.into_any()
                            }}
                            {d.flags.iter().filter_map(|f| match f {
                                Flag::PhotoReuse { photo, other_photo, other_sha256, other_record, other_site, .. } => {
                                    Some((*photo, *other_photo, other_sha256.clone(), *other_record, other_site.clone()))
                                }
                                _ => None,
                            }).map(|(n, on, other_sha, other_rec, other_site)| {
                                let mine = i.photos.get(n).map(|p| p.sha256.clone()).unwrap_or_default();
                                let img = move |sha: String, class: &'static str| move || photos.with(|m| m.get(&sha).cloned()).map(|u| view! { <img class=class src=u/> });
                                view! {
                                    <div class="evidence" data-flag="photo_reuse">
                                        <h4>{move || ctx.t("evidence")}</h4>
                                        <div class="pair">
                                            <figure>{img(mine.clone(), "evidence-mine")}<figcaption>{format!("{} · {} {}", ctx.t("this_record"), ctx.t("photos"), n + 1)}</figcaption></figure>
                                            <figure>{img(other_sha.clone(), "evidence-other")}<figcaption>{format!("{}（{other_site}）· {} {}", ctx.t("other_record"), ctx.t("photos"), on + 1)}</figcaption></figure>
                                        </div>
                                        <button class="link open-other" on:click=move |_| ctx.go(View::Record(other_rec))>{move || ctx.t("open_other")}</button>
                                    </div>
                                }
                            }).collect_view()}
                            <h3>{move || ctx.t("fields")}</h3>
                            <table class="table kv" id="fields">
                                <tr><th>{ctx.t("kind")}</th><td>{kind_label(lang, i.kind())}</td></tr>
                                <tr><th>{ctx.t("record_position")}</th><td id="record-position">{i.position.as_ref().map(|p| crate::i18n::position_text(lang, p)).unwrap_or_else(|| ctx.t("no_position").into())}</td></tr>
                                {shared::diff::fields(&i).into_iter()
                                    .filter(|(k, _)| (k.starts_with("body.") && k != "body.kind") || k == "notes" || k == "device_time" || k == "proposed_status")
                                    .map(|(k, v)| { let k = k.trim_start_matches("body.").to_string(); view! { <tr><th>{field_label(lang, &k)}</th><td>{field_value(lang, &k, &v)}</td></tr> } }).collect_view()}
                            </table>
                        </div>
                        <Documents i=i.clone()/>
                        <div class="card">
                            <h3>{move || ctx.t("positions")}</h3>
                            <MiniMap site=site_pos record=rec_pos photos=photo_pts lang=ctx.lang tiles=ctx.tiles()/>
                            <p id="distance">{match dist {
                                Some(m) => format!("{}：{m:.0} m", ctx.t("distance")),
                                None => ctx.t("no_position").to_string(),
                            }}</p>
                            <h3>{move || ctx.t("photos")}</h3>
                            <div class="thumbs" id="photos">
                                {i.photos.iter().map(|p| {
                                    let sha = p.sha256.clone();
                                    let sha2 = sha.clone();
                                    let caption = p.caption.clone();
                                    view! {
                                        <figure>
                                            <button class="thumb" on:click=move |_| {
                                                if let Some(u) = photos.with_untracked(|m| m.get(&sha).cloned()) { zoom.set(Some((u, false))) }
                                            }>
                                                {move || photos.with(|m| m.get(&sha2).cloned()).map(|u| view! { <img src=u alt=caption.clone()/> })}
                                            </button>
                                        </figure>
                                    }
                                }).collect_view()}
                            </div>
                        </div>
                    </div>
                    {move || can_decide().then(|| view! {
                        <div class="card" id="decide">
                            <label for="comment">{move || ctx.t("comment")}</label>
                            <textarea id="comment" prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))></textarea>
                            {move || local_error.get().map(|e| view! { <p class="err" id="review-error">{e}</p> })}
                            <p class="row">
                                <button id="approve" class="primary" prop:disabled=move || busy.get() on:click=move |_| decide(ReviewDecision::Approve)>{move || ctx.t("approve")}</button>
                                <button id="return" prop:disabled=move || busy.get() on:click=move |_| decide(ReviewDecision::Return)>{move || ctx.t("return")}</button>
                                <button id="reject" class="danger" prop:disabled=move || busy.get() on:click=move |_| decide(ReviewDecision::Reject)>{move || ctx.t("reject")}</button>
                            </p>
                            <p class="muted small">{move || ctx.t("keys_detail")}</p>
                        </div>
                    })}
                    <div class="card" id="versions">
                        <h3>{move || ctx.t("versions")}</h3>
                        {versions.windows(2).map(|w| {
                            let c = shared::diff::changes(&w[0], &w[1]);
                            view! {
                                <h4>{format!("{} {} → {}", ctx.t("version"), w[0].version, w[1].version)}</h4>
                                {if c.is_empty() { view! { <p class="muted">{ctx.t("no_changes")}</p> }.into_any() } else {
                                    view! { <table class="table diff">{c.into_iter().map(|c| view! {
                                        <tr><th>{field_label(lang, c.path.trim_start_matches("body."))}</th>
                                            <td class="before">{c.before.map(|b| field_value(lang, &c.path, &b)).unwrap_or_default()}</td>
                                            <td class="after">{c.after.map(|a| field_value(lang, &c.path, &a)).unwrap_or_default()}</td></tr>
                                    }).collect_view()}</table> }.into_any()
                                }}
                            }
                        }).collect_view()}
                        {(versions.len() < 2).then(|| view! { <p class="muted">{format!("{} 1", ctx.t("version"))}</p> })}
                        <h3>{move || ctx.t("audit")}</h3>
                        <ul class="plain">{d.history.iter().map(|h| view! {
                            <li>{format!("{} · {} {}", shared::clock::beijing(h.at), h.action, h.detail.get("comment").and_then(|c| c.as_str()).unwrap_or(""))}</li>
                        }).collect_view()}</ul>
                    </div>
                }
            })}
            {move || zoom.get().map(|(u, full)| view! {
                <div class="overlay" id="zoom" on:click=move |_| zoom.set(None)>
                    <img src=u.clone() class:full=full on:click=move |ev| { ev.stop_propagation(); zoom.update(|z| if let Some(z) = z { z.1 = !z.1 }); }/>
                </div>
            })}
        </section>
    }
}

/// The record's official documents as the tablet made them (the server makes the same bytes):
/// the number, a view beside the record and the download.
#[component]
fn Documents(i: shared::inspection::Inspection) -> impl IntoView {
    let ctx = cctx();
    let view_url = RwSignal::new(None::<String>);
    let digests = RwSignal::new(HashMap::<&'static str, String>::new());
    let kinds = shared::documents::documents_for(&i);
    let (id, version, kind_of) = (i.id, i.version, i.kind());
    let info = i.document.clone();
    on_cleanup(move || {
        if let Some(u) = view_url.get_untracked() {
            let _ = web_sys::Url::revoke_object_url(&u);
        }
    });
    view! {
        <div class="card" id="documents">
            <h3>{move || ctx.t("documents")}</h3>
            <ul class="docs">
            {kinds.into_iter().map(|k| {
                let number = info.as_ref().and_then(|d| d.number(k)).map(|n| n.to_string());
                let signed = info.clone();
                let file = format!("{}-{}.pdf", k.title_zh(kind_of), number.clone().unwrap_or_else(|| id.to_string()));
                view! {
                    <li data-kind=k.as_str() data-sha256=move || digests.with(|d| d.get(k.as_str()).cloned().unwrap_or_default())>
                        <span>{k.title_zh(kind_of)}" "</span>
                        <strong class="doc-number">{number.unwrap_or_else(|| ctx.t("no_number").to_string())}</strong>
                        " "
                        <span class="doc-sha muted">{move || digests.with(|d| d.get(k.as_str()).map(|h| format!("SHA-256 {}… ", &h[..16])))}</span>
                        {move || digests.with(|d| d.get(k.as_str()).map(|h| {
                            // Against the digest the tablet signed with the version.
                            let check = signed.as_ref().map(|i| i.check(k, h)).unwrap_or(DocumentCheck::Unsigned);
                            view! {
                                <span class="doc-check" data-check=check.as_str()>{ctx.t(match check {
                                    DocumentCheck::Matches => "doc_matches",
                                    DocumentCheck::Differs => "doc_differs",
                                    DocumentCheck::Unsigned => "doc_unsigned",
                                })}" "</span>
                            }
                        }))}
                        <button class="doc-view" on:click=move |_| spawn_local(async move {
                            match http::document_url(id, version, k).await {
                                Ok((u, sha)) => {
                                    if let Some(old) = view_url.get_untracked() {
                                        let _ = web_sys::Url::revoke_object_url(&old);
                                    }
                                    digests.update(|d| { d.insert(k.as_str(), sha); });
                                    view_url.set(Some(u));
                                }
                                Err(e) => ctx.fail(e),
                            }
                        })>{move || ctx.t("view")}</button>
                        <button class="doc-download" on:click=move |_| {
                            let file = file.clone();
                            spawn_local(async move {
                                match http::document_url(id, version, k).await {
                                    Ok((u, sha)) => {
                                        digests.update(|d| { d.insert(k.as_str(), sha); });
                                        let _ = http::save_url(u, &file);
                                    }
                                    Err(e) => ctx.fail(e),
                                }
                            })
                        }>{move || ctx.t("download")}</button>
                    </li>
                }
            }).collect_view()}
            </ul>
            {move || view_url.get().map(|u| view! {
                <iframe id="doc-view" src=u title="PDF" style="width:100%;height:70vh;border:1px solid #ccc"></iframe>
            })}
        </div>
    }
}
