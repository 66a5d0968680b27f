//! One record for review in the console: the record as `record_view` shows it on both hosts,
//! its official documents, and the decision (keyboard: A approve, R return, J reject, Esc back).

use std::collections::HashMap;

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::InspectionId;
use shared::auth::Role;
use shared::console::RecordDetail;
use shared::documents::DocumentCheck;
use shared::review::{ReviewDecision, ReviewStatus};
use shared::sync::ReviewRequest;

use super::{View, cctx, typing_in_field};
use crate::http;
use crate::i18n::review_status_label;
use crate::record_view::{
    FlagsAndFields, PositionsAndPhotos, RecordHead, VersionsAndHistory, ZoomOverlay, missing_comment,
    photo_hashes,
};

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
                let shas = photo_hashes(&d);
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
        if let Some(key) = missing_comment(decision, &text) {
            return local_error.set(Some(ctx.t(key).into()));
        }
        local_error.set(None);
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
                // Rebuilt when the language changes.
                let _ = ctx.lang.get();
                let i = d.record.inspection.clone();
                let open_other = Callback::new(move |other: InspectionId| ctx.go(View::Record(other)));
                view! {
                    <RecordHead d=d.clone() lang=ctx.lang/>
                    <div class="cols">
                        <FlagsAndFields d=d.clone() lang=ctx.lang photos=photos on_open_other=open_other/>
                        <Documents i=i.clone()/>
                        <PositionsAndPhotos d=d.clone() lang=ctx.lang tiles=ctx.tiles() photos=photos zoom=zoom/>
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
                    <VersionsAndHistory d=d lang=ctx.lang/>
                }
            })}
            <ZoomOverlay zoom=zoom/>
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
