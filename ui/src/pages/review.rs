//! Review mode on the tablet: the township's queue held offline, one record read as the console
//! shows it (`record_view`), decisions queued for the sync, and conflicts shown with both sides.

use std::collections::{BTreeSet, HashMap};

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::InspectionId;
use shared::inspection::InspectionKind;
use shared::offline_review::{
    DecisionRequest, DecisionState, LocalDecision, QueueFilter, QueueView, ReviewItem, ReviewRecordView,
    current_detail,
};
use shared::review::ReviewDecision;

use crate::api;
use crate::app::{Page, ctx};
use crate::i18n::{Lang, kind_label, review_status_label};
use crate::record_view::{
    FlagsAndFields, PositionsAndPhotos, RecordHead, VersionsAndHistory, ZoomOverlay, missing_comment,
    photo_hashes,
};

fn state_label(lang: Lang, s: DecisionState) -> &'static str {
    if lang == Lang::Zh { s.label_zh() } else { s.label_en() }
}

/// A refusal as one line: its message, then what each field needs.
fn error_text(e: &shared::ApiError) -> String {
    std::iter::once(e.message.clone())
        .chain(e.fields.iter().map(|f| f.message.clone()))
        .collect::<Vec<_>>()
        .join("；")
}

fn decision_text(lang: Lang, d: &LocalDecision) -> String {
    let what = review_status_label(lang, d.decision.outcome());
    if d.comment.is_empty() {
        format!("{what}（v{}）", d.version)
    } else {
        format!("{what}（v{}）：{}", d.version, d.comment)
    }
}

/// The local queue: filters, readiness, bulk decisions.
#[component]
pub fn ReviewQueue() -> impl IntoView {
    let ctx = ctx();
    let filter = RwSignal::new(QueueFilter::default());
    let rows = RwSignal::new(Vec::<ReviewItem>::new());
    let selected = RwSignal::new(BTreeSet::<InspectionId>::new());
    let bulk_comment = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    // Answers can arrive out of order (quick filter changes): only the latest request counts.
    let generation = StoredValue::new(0u64);
    let reload = move || {
        let f = filter.get_untracked();
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        spawn_local(async move {
            let answer = api::review_items(&f).await;
            if generation.get_value() != mine {
                return;
            }
            match answer {
                Ok(v) => {
                    selected.update(|s| {
                        s.retain(|id| v.iter().any(|i| i.record.inspection.id == *id && i.awaits_decision()))
                    });
                    rows.set(v);
                }
                Err(e) => ctx.notice.set(Some(e.message)),
            }
        });
    };
    // Re-read when a sync or a decision moved something, not on every status refresh.
    let moved = Memo::new(move |_| {
        ctx.status
            .with(|s| s.as_ref().map(|s| (s.review.clone(), s.sync.last_sync_at.clone(), s.sync.prefetch)))
    });
    Effect::new(move |_| {
        let _ = filter.get();
        let _ = moved.get();
        reload();
    });
    let bulk = move |decision: ReviewDecision| {
        if busy.get_untracked() {
            return;
        }
        let comment = bulk_comment.get_untracked().trim().to_string();
        let reqs: Vec<DecisionRequest> = rows.with_untracked(|rs| {
            rs.iter()
                .filter(|r| selected.with_untracked(|s| s.contains(&r.record.inspection.id)))
                .map(|r| DecisionRequest {
                    record_id: r.record.inspection.id,
                    version: r.record.inspection.version,
                    decision,
                    comment: comment.clone(),
                })
                .collect()
        });
        if reqs.is_empty() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            match api::decide(&reqs).await {
                Ok(made) => {
                    ctx.notice.set(Some(format!("{} {}", made.len(), ctx.t("decisions_saved"))));
                    selected.set(BTreeSet::new());
                    bulk_comment.set(String::new());
                    ctx.refresh();
                    reload();
                }
                Err(e) => ctx.notice.set(Some(error_text(&e))),
            }
            busy.set(false);
        });
    };
    let view_tab = move |v: QueueView, key: &'static str| {
        view! {
            <button class:active=move || filter.with(|f| f.view == v) data-view=key on:click=move |_| filter.update(|f| f.view = v)>{move || ctx.t(key)}</button>
        }
    };
    view! {
        <h2>{move || ctx.t("review_queue")}</h2>
        <nav class="seg" id="queue-views">
            {view_tab(QueueView::Pending, "view_pending")}
            {view_tab(QueueView::Decided, "view_decided")}
            {view_tab(QueueView::Conflicts, "view_conflicts")}
            {view_tab(QueueView::All, "view_all")}
        </nav>
        <div class="row">
            <input id="queue-search" placeholder=move || ctx.t("search") on:change=move |ev| filter.update(|f| f.text = event_target_value(&ev))/>
            <select id="queue-kind" on:change=move |ev| filter.update(|f| f.kind = InspectionKind::parse(&event_target_value(&ev)))>
                <option value="">{move || ctx.t("all_kinds")}</option>
                {InspectionKind::ALL.into_iter().map(|k| view! { <option value=k.as_str()>{move || kind_label(ctx.lang.get(), k)}</option> }).collect_view()}
            </select>
            <label><input type="checkbox" id="queue-flagged" on:change=move |ev| filter.update(|f| f.flagged = event_target_checked(&ev).then_some(true))/>{move || ctx.t("flagged_only")}</label>
            <label><input type="checkbox" id="queue-ready" on:change=move |ev| filter.update(|f| f.ready_only = event_target_checked(&ev))/>{move || ctx.t("ready_only")}</label>
        </div>
        {move || (!selected.with(|s| s.is_empty())).then(|| view! {
            <div class="card" id="bulk">
                <p>{move || format!("{} {}", selected.with(|s| s.len()), ctx.t("items"))}</p>
                <textarea id="bulk-comment" placeholder=move || ctx.t("bulk_comment") prop:value=move || bulk_comment.get() on:input=move |ev| bulk_comment.set(event_target_value(&ev))></textarea>
                <p class="row">
                    <button class="primary" id="bulk-approve" prop:disabled=move || busy.get() on:click=move |_| bulk(ReviewDecision::Approve)>{move || ctx.t("approve_selected")}</button>
                    <button id="bulk-return" prop:disabled=move || busy.get() on:click=move |_| bulk(ReviewDecision::Return)>{move || ctx.t("return_selected")}</button>
                    <button class="danger" id="bulk-reject" prop:disabled=move || busy.get() on:click=move |_| bulk(ReviewDecision::Reject)>{move || ctx.t("reject_selected")}</button>
                </p>
            </div>
        })}
        <div class="card">
            {move || rows.with(|r| r.is_empty()).then(|| view! { <p class="muted" id="queue-empty">{ctx.t("no_queue")}</p> })}
            <ul class="list" id="review-list">
                {move || rows.get().into_iter().map(|r| {
                    let id = r.record.inspection.id;
                    let lang = ctx.lang.get();
                    let ready = r.ready_offline();
                    let pending = r.awaits_decision();
                    let decision = r.decision.clone().filter(|d| d.state != DecisionState::Dropped);
                    view! {
                        <li data-record=id.to_string() data-ready=ready.to_string() data-status=r.record.status.as_str()>
                            {pending.then(|| view! {
                                <input type="checkbox" class="pick" prop:checked=move || selected.with(|s| s.contains(&id))
                                    on:change=move |ev| { let on = event_target_checked(&ev); selected.update(|s| { if on { s.insert(id); } else { s.remove(&id); } }); }/>
                            })}
                            <span class="open" on:click=move |_| ctx.go(Page::ReviewRecord(id))>
                                <span class=format!("badge {}", r.record.status.as_str())>{review_status_label(lang, r.record.status)}</span>
                                " "{r.site_name.clone()}" · "{kind_label(lang, r.record.inspection.kind())}" v"{r.record.inspection.version}
                                {(r.flags > 0).then(|| view! { <span class="badge warn-badge">{format!("{} {}", ctx.t("flags"), r.flags)}</span> })}
                            </span>
                            {decision.map(|d| view! { <span class=format!("badge decision {}", d.state.as_str()) data-decision=d.state.as_str()>{state_label(lang, d.state)}</span> })}
                            // Readiness matters only for what still waits for a decision.
                            {pending.then(|| view! {
                                <span class=if ready { "muted ready" } else { "muted not-ready" }>
                                    {if ready { ctx.t("ready_offline").to_string() } else { format!("{} {}/{}", ctx.t("not_ready"), r.photos_local, r.photos) }}
                                </span>
                            })}
                            <span class="muted">{shared::clock::beijing(r.record.received_at)}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </div>
    }
}

/// One record: read as in the console, decided here, conflicts shown with both sides.
#[component]
pub fn ReviewRecord(id: InspectionId) -> impl IntoView {
    let ctx = ctx();
    let data = RwSignal::new(None::<ReviewRecordView>);
    let photos = RwSignal::new(HashMap::<String, String>::new());
    let zoom = RwSignal::new(None::<(String, bool)>);
    let comment = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let load = move || {
        spawn_local(async move {
            match api::review_record(id).await {
                Ok(v) => {
                    let shas = photo_hashes(&current_detail(&v));
                    data.set(Some(v));
                    for sha in shas {
                        if photos.with_untracked(|m| m.contains_key(&sha)) {
                            continue;
                        }
                        if let Ok(url) = api::photo(&sha).await {
                            photos.update(|m| {
                                m.insert(sha, url);
                            });
                        }
                    }
                }
                Err(e) => ctx.notice.set(Some(e.message)),
            }
        })
    };
    // Again when a sync or a decision moved something (the first run is the initial load); not
    // on every photo the background fetch brings, which would rebuild the page under the
    // reviewer's fingers.
    let moved = Memo::new(move |_| {
        ctx.status.with(|s| s.as_ref().map(|s| (s.review.clone(), s.sync.last_sync_at.clone())))
    });
    Effect::new(move |_| {
        let _ = moved.get();
        load();
    });
    let decide = move |decision: ReviewDecision| {
        if busy.get_untracked() {
            return;
        }
        let Some(version) = data.with_untracked(|v| v.as_ref().map(|v| v.item.record.inspection.version))
        else {
            return;
        };
        let text = comment.get_untracked().trim().to_string();
        if let Some(key) = missing_comment(decision, &text) {
            return local_error.set(Some(ctx.t(key).into()));
        }
        local_error.set(None);
        busy.set(true);
        spawn_local(async move {
            match api::decide(&[DecisionRequest { record_id: id, version, decision, comment: text }]).await {
                Ok(_) => {
                    ctx.refresh();
                    ctx.go(Page::ReviewQueue);
                    ctx.notice.set(Some(ctx.t("decision_saved").into()));
                }
                Err(e) => local_error.set(Some(error_text(&e))),
            }
            busy.set(false);
        });
    };
    let drop_mine = move |seq: u64| {
        spawn_local(async move {
            match api::drop_decision(seq).await {
                Ok(_) => {
                    ctx.refresh();
                    load();
                }
                Err(e) => ctx.notice.set(Some(e.message)),
            }
        })
    };
    view! {
        <section id="review-record">
            <p><button id="back" on:click=move |_| ctx.go(Page::ReviewQueue)>{move || format!("← {}", ctx.t("back"))}</button></p>
            {move || data.get().map(|v| {
                let lang = ctx.lang.get();
                let d = current_detail(&v);
                let open_other = Callback::new(move |other: InspectionId| ctx.go(Page::ReviewRecord(other)));
                let mine = v.item.decision.clone().filter(|d| d.state != DecisionState::Dropped);
                let awaits = v.item.awaits_decision();
                view! {
                    {(awaits && !v.item.ready_offline()).then(|| view! { <p class="banner" id="not-ready">{ctx.t("detail_missing")}</p> })}
                    {mine.map(|m| {
                        let seq = m.seq;
                        let conflict = m.state == DecisionState::Conflict;
                        let refused = m.state == DecisionState::Refused;
                        view! {
                            <div class=format!("card decision {}", m.state.as_str()) id="my-decision" data-state=m.state.as_str()>
                                <h3>{ctx.t("my_decision")}" · "<span class=format!("badge decision {}", m.state.as_str())>{state_label(lang, m.state)}</span></h3>
                                <p id="my-decision-text">{decision_text(lang, &m)}</p>
                                {m.error.clone().map(|e| view! { <p class="err" id="decision-error">{e.message.clone()}</p> })}
                                {m.server.clone().map(|s| view! {
                                    <div id="server-side">
                                        <h4>{ctx.t("server_side")}</h4>
                                        <p>
                                            <span class=format!("badge {}", s.status.as_str())>{review_status_label(lang, s.status)}</span>
                                            {format!(" v{} ", s.inspection.version)}
                                            {s.review.clone().map(|r| format!("{}：{}", r.reviewer_name, if r.comment.is_empty() { review_status_label(lang, r.decision.outcome()).to_string() } else { r.comment.clone() }))}
                                        </p>
                                    </div>
                                })}
                                {(conflict && awaits).then(|| view! { <p class="muted">{ctx.t("decide_again_hint")}</p> })}
                                {(conflict || refused).then(|| view! {
                                    <button id="drop-mine" on:click=move |_| drop_mine(seq)>{ctx.t("drop_mine")}</button>
                                })}
                            </div>
                        }
                    })}
                    <RecordHead d=d.clone() lang=ctx.lang/>
                    {awaits.then(|| view! {
                        <div class="card" id="decide">
                            <label for="comment">{ctx.t("comment")}</label>
                            <textarea id="comment" prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))></textarea>
                            {move || local_error.get().map(|e| view! { <p class="err" id="review-error">{e}</p> })}
                            <p class="row">
                                <button id="approve" class="primary" prop:disabled=move || busy.get() on:click=move |_| decide(ReviewDecision::Approve)>{ctx.t("approve")}</button>
                                <button id="return" prop:disabled=move || busy.get() on:click=move |_| decide(ReviewDecision::Return)>{ctx.t("return")}</button>
                                <button id="reject" class="danger" prop:disabled=move || busy.get() on:click=move |_| decide(ReviewDecision::Reject)>{ctx.t("reject")}</button>
                            </p>
                        </div>
                    })}
                    <div class="cols">
                        <FlagsAndFields d=d.clone() lang=ctx.lang photos=photos on_open_other=open_other/>
                        <PositionsAndPhotos d=d.clone() lang=ctx.lang tiles=Signal::derive(|| None) photos=photos zoom=zoom/>
                    </div>
                    <VersionsAndHistory d=d lang=ctx.lang/>
                }
            })}
            <ZoomOverlay zoom=zoom/>
        </section>
    }
}
