use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::InspectionId;
use shared::app::{LocalState, RecordDetail, RecordSummary};

use crate::api;
use crate::app::{Page, ctx};
use crate::i18n::{kind_label, shanghai, state_label};

/// Outbox and history: every record on the device with its state.
#[component]
pub fn Records() -> impl IntoView {
    let ctx = ctx();
    let filter = RwSignal::new(None::<LocalState>);
    let rows = RwSignal::new(Vec::<RecordSummary>::new());
    Effect::new(move |_| {
        let f = filter.get();
        // Re-read when the status changes (sync moved something).
        let _ = ctx.status.get();
        spawn_local(async move {
            if let Ok(v) = api::records(f).await {
                rows.set(v);
            }
        });
    });
    view! {
        <div class="row">
            <select id="record-state" on:change=move |ev| filter.set(LocalState::parse(&event_target_value(&ev)))>
                <option value="">{move || ctx.t("all_status")}</option>
                {LocalState::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{move || state_label(ctx.lang.get(), s)}</option> }).collect_view()}
            </select>
        </div>
        <div class="card">
            <ul class="list" id="record-list">
                {move || rows.get().into_iter().map(|r| {
                    let id = r.id;
                    view! {
                        <li data-record=r.id.to_string() data-state=r.state.as_str() on:click=move |_| ctx.go(Page::Record(id))>
                            <span class=format!("badge {}", r.state.as_str())>{move || state_label(ctx.lang.get(), r.state)}</span>
                            <span style="flex:1">{r.site_name.clone()}" · "{move || kind_label(ctx.lang.get(), r.kind)}" v"{r.version}</span>
                            <span class="muted">{format!("{} ", r.photos)}{move || ctx.t("photos")}</span>
                            <span class="muted">{shanghai(&r.updated_at)}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </div>
    }
}

/// One record: the reviewer's comment first when returned, read-only when rejected.
#[component]
pub fn RecordView(id: InspectionId) -> impl IntoView {
    let ctx = ctx();
    let detail = RwSignal::new(None::<RecordDetail>);
    let load = move || {
        spawn_local(async move {
            match api::record(id).await {
                Ok(d) => detail.set(Some(d)),
                Err(e) => ctx.notice.set(Some(e.message)),
            }
        })
    };
    load();
    let correct = move |_| {
        spawn_local(async move {
            match api::start_correction(id).await {
                Ok(_) => ctx.go(Page::Edit(id)),
                Err(e) => ctx.notice.set(Some(e.message)),
            }
        })
    };
    let submit = move |_| {
        spawn_local(async move {
            match api::submit(id).await {
                Ok(_) => {
                    ctx.notice.set(Some(ctx.t("queued").into()));
                    load();
                }
                Err(e) => ctx.notice.set(Some(e.message)),
            }
        })
    };
    let take_server = move |_| {
        spawn_local(async move {
            match api::accept_server_version(id).await {
                Ok(_) => load(),
                Err(e) => ctx.notice.set(Some(e.message)),
            }
        })
    };
    let discard = move |_| {
        spawn_local(async move {
            match api::discard_draft(id).await {
                Ok(_) => ctx.go(Page::Records),
                Err(e) => ctx.notice.set(Some(e.message)),
            }
        })
    };
    view! {
        <p><button on:click=move |_| ctx.go(Page::Records)>{move || ctx.t("back")}</button></p>
        {move || detail.get().map(|d| {
            let s = d.summary.clone();
            let state = s.state;
            let review = s.review.clone();
            let banner = match state {
                LocalState::Returned => review.clone().map(|r| view! {
                    <div class="banner returned" id="review-comment">
                        <strong>{move || ctx.t("reviewer_comment")}"："</strong><span id="review-comment-text">{r.comment.clone()}</span>
                        <div class="muted">{r.reviewer_name.clone()}" · "{shanghai(&r.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default())}</div>
                    </div>
                }.into_any()),
                LocalState::Rejected => review.clone().map(|r| view! {
                    <div class="banner rejected" id="review-comment">
                        <strong>{move || ctx.t("rejected_reason")}"："</strong><span id="review-comment-text">{r.comment.clone()}</span>
                    </div>
                }.into_any()),
                LocalState::Refused | LocalState::Conflict => s.last_error.clone().map(|e| view! {
                    <div class=format!("banner {}", state.as_str()) id="last-error">
                        <strong>{move || ctx.t(if state == LocalState::Refused { "refused" } else { "conflict" })}"："</strong>{e.message.clone()}
                        <ul>{e.fields.iter().map(|f| view! { <li>{format!("{}: {}", f.field, f.message)}</li> }).collect_view()}</ul>
                    </div>
                }.into_any()),
                _ => None,
            };
            let site_name = d.site.as_ref().map(|x| x.name.clone()).unwrap_or_default();
            let i = d.inspection.clone();
            let ikind = i.kind();
            view! {
                {banner}
                <div class="card">
                    <h2>{site_name}" · "{move || kind_label(ctx.lang.get(), ikind)}" v"{i.version}</h2>
                    <p><span class=format!("badge {}", state.as_str()) id="record-state-badge">{move || state_label(ctx.lang.get(), state)}</span></p>
                    {(!d.flags.is_empty()).then(|| view! {
                        <div class="warn"><strong>{move || ctx.t("warnings")}</strong>
                        <ul>{d.flags.iter().map(|f| view! { <li>{f.message_zh()}</li> }).collect_view()}</ul></div>
                    })}
                    <p id="record-position">{i.position.as_ref().map(|p| crate::i18n::position_text(ctx.lang.get_untracked(), p))}</p>
                    <p class="muted">{i.notes.clone()}</p>
                    <super::form::PhotoStrip photos={i.photos.iter().map(|p| p.sha256.clone()).collect::<Vec<String>>()} on_remove=None/>
                    <div class="row">
                        {(state == LocalState::Returned).then(|| view! { <button class="primary" id="correct" on:click=correct>{move || ctx.t("correct")}</button> })}
                        {state.is_editable().then(|| (state != LocalState::Returned).then(|| view! {
                            <button id="edit" on:click=move |_| ctx.go(Page::Edit(id))>{move || ctx.t("edit")}</button>
                            <button class="primary" id="submit" on:click=submit>{move || ctx.t("submit")}</button>
                        }))}
                        {(state == LocalState::Conflict).then(|| view! { <button class="primary" id="take-server" on:click=take_server>{move || ctx.t("take_server")}</button> })}
                        {(state == LocalState::Draft && i.version == 1).then(|| view! { <button class="danger" id="discard" on:click=discard>{move || ctx.t("discard")}</button> })}
                    </div>
                </div>
            }
        })}
    }
}
