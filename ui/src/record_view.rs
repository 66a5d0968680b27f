//! A record as a reviewer reads it, the same on both hosts (the console in a browser and the
//! reviewer's tablet offline): the head, flags with the evidence side by side, the typed fields,
//! the position beside the site's with the distance, photos (zoomable), and every version with
//! what changed and the history. The host brings the photos (sha256 → URL) and the decision.

use std::collections::HashMap;

use leptos::prelude::*;
use shared::InspectionId;
use shared::console::RecordDetail;
use shared::flags::Flag;
use shared::geo::{LngLat, distance_m};

use crate::i18n::{Lang, field_label, field_value, flag_text, kind_label, review_status_label, t};
use crate::map::{MiniMap, Tiles};

/// The message key when a decision needs a comment it lacks (a return, a rejection), checked
/// before anything is sent or queued, on both hosts.
pub fn missing_comment(decision: shared::review::ReviewDecision, comment: &str) -> Option<&'static str> {
    use shared::review::ReviewDecision;
    match decision {
        ReviewDecision::Return if comment.trim().is_empty() => Some("comment_required"),
        ReviewDecision::Reject if comment.trim().is_empty() => Some("reason_required"),
        _ => None,
    }
}

/// Photos the record view shows: the current version's and the other record's photo behind
/// each reuse flag.
pub fn photo_hashes(d: &RecordDetail) -> Vec<String> {
    let mut shas: Vec<String> = d.record.inspection.photos.iter().map(|p| p.sha256.clone()).collect();
    shas.extend(d.flags.iter().filter_map(|f| match f {
        Flag::PhotoReuse { other_sha256, .. } => Some(other_sha256.clone()),
        _ => None,
    }));
    shas.sort();
    shas.dedup();
    shas
}

/// Site, kind, status, version, received time and the standing review note.
#[component]
pub fn RecordHead(d: RecordDetail, lang: RwSignal<Lang>) -> impl IntoView {
    let i = d.record.inspection.clone();
    let l = lang.get_untracked();
    view! {
        <div class="card">
            <h2 id="record-title">{format!("{} · {}", d.site.as_ref().map(|s| s.name.clone()).unwrap_or_default(), kind_label(l, i.kind()))}</h2>
            <p class="row">
                <span><span id="record-status" class=format!("badge {}", d.record.status.as_str())>{review_status_label(l, d.record.status)}</span></span>
                <span>{format!("{} {}", t(l, "version"), i.version)}</span>
                <span>{format!("{} {}", t(l, "received"), shared::clock::beijing(d.record.received_at))}</span>
            </p>
            {d.record.review.clone().map(|r| view! { <p class="banner returned" id="standing-review">{format!("{}：{}", r.reviewer_name, r.comment)}</p> })}
        </div>
    }
}

/// The flags with their evidence (both photos of a reuse side by side) and the typed fields.
#[component]
pub fn FlagsAndFields(
    d: RecordDetail,
    lang: RwSignal<Lang>,
    photos: RwSignal<HashMap<String, String>>,
    on_open_other: Callback<InspectionId>,
) -> impl IntoView {
    let l = lang.get_untracked();
    let i = d.record.inspection.clone();
    view! {
        <div class="card">
            <h3>{t(l, "flags")}</h3>
            {if d.flags.is_empty() {
                view! { <p class="muted" id="flags">{t(l, "no_flags")}</p> }.into_any()
            } else {
                view! { <ul id="flags" class="flags">{d.flags.iter().map(|f| view! { <li class="warn" data-flag=f.kind()>{flag_text(l, f)}</li> }).collect_view()}</ul> }.into_any()
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
                        <h4>{t(l, "evidence")}</h4>
                        <div class="pair">
                            <figure>{img(mine.clone(), "evidence-mine")}<figcaption>{format!("{} · {} {}", t(l, "this_record"), t(l, "photos"), n + 1)}</figcaption></figure>
                            <figure>{img(other_sha.clone(), "evidence-other")}<figcaption>{format!("{}（{other_site}）· {} {}", t(l, "other_record"), t(l, "photos"), on + 1)}</figcaption></figure>
                        </div>
                        <button class="link open-other" on:click=move |_| on_open_other.run(other_rec)>{t(l, "open_other")}</button>
                    </div>
                }
            }).collect_view()}
            <h3>{t(l, "fields")}</h3>
            <table class="table kv" id="fields">
                <tr><th>{t(l, "kind")}</th><td>{kind_label(l, i.kind())}</td></tr>
                <tr><th>{t(l, "record_position")}</th><td id="record-position">{i.position.as_ref().map(|p| crate::i18n::position_text(l, p)).unwrap_or_else(|| t(l, "no_position").into())}</td></tr>
                {shared::diff::fields(&i).into_iter()
                    .filter(|(k, _)| (k.starts_with("body.") && k != "body.kind") || k == "notes" || k == "device_time" || k == "proposed_status")
                    .map(|(k, v)| { let k = k.trim_start_matches("body.").to_string(); view! { <tr><th>{field_label(l, &k)}</th><td>{field_value(l, &k, &v)}</td></tr> } }).collect_view()}
            </table>
        </div>
    }
}

/// The record's position beside the site's on the mini map, the distance, and the photos.
#[component]
pub fn PositionsAndPhotos(
    d: RecordDetail,
    lang: RwSignal<Lang>,
    tiles: Signal<Tiles>,
    photos: RwSignal<HashMap<String, String>>,
    zoom: RwSignal<Option<(String, bool)>>,
) -> impl IntoView {
    let l = lang.get_untracked();
    let i = d.record.inspection.clone();
    let site_pos = d.site.as_ref().and_then(|s| s.position);
    let rec_pos = i.position.as_ref().map(|p| p.point);
    let dist = match (site_pos, rec_pos) {
        (Some(a), Some(b)) => Some(distance_m(a, b)),
        _ => None,
    };
    let photo_pts: Vec<LngLat> = i.photos.iter().filter_map(|p| p.exif_position).collect();
    view! {
        <div class="card">
            <h3>{t(l, "positions")}</h3>
            <MiniMap site=site_pos record=rec_pos photos=photo_pts lang=lang tiles=tiles/>
            <p id="distance">{match dist {
                Some(m) => format!("{}：{m:.0} m", t(l, "distance")),
                None => t(l, "no_position").to_string(),
            }}</p>
            <h3>{t(l, "photos")}</h3>
            <div class="thumbs" id="photos">
                {i.photos.iter().map(|p| {
                    let sha = p.sha256.clone();
                    let sha2 = sha.clone();
                    let caption = p.caption.clone();
                    view! {
                        <figure data-photo=p.sha256.clone()>
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
    }
}

/// Every version with what changed from the one before, and the record's history.
#[component]
pub fn VersionsAndHistory(d: RecordDetail, lang: RwSignal<Lang>) -> impl IntoView {
    let l = lang.get_untracked();
    let versions = d.versions.clone();
    view! {
        <div class="card" id="versions">
            <h3>{t(l, "versions")}</h3>
            {versions.windows(2).map(|w| {
                let c = shared::diff::changes(&w[0], &w[1]);
                view! {
                    <h4>{format!("{} {} → {}", t(l, "version"), w[0].version, w[1].version)}</h4>
                    {if c.is_empty() { view! { <p class="muted">{t(l, "no_changes")}</p> }.into_any() } else {
                        view! { <table class="table diff">{c.into_iter().map(|c| view! {
                            <tr><th>{field_label(l, c.path.trim_start_matches("body."))}</th>
                                <td class="before">{c.before.map(|b| field_value(l, &c.path, &b)).unwrap_or_default()}</td>
                                <td class="after">{c.after.map(|a| field_value(l, &c.path, &a)).unwrap_or_default()}</td></tr>
                        }).collect_view()}</table> }.into_any()
                    }}
                }
            }).collect_view()}
            {(versions.len() < 2).then(|| view! { <p class="muted">{format!("{} 1", t(l, "version"))}</p> })}
            <h3>{t(l, "audit")}</h3>
            <ul class="plain">{d.history.iter().map(|h| view! {
                <li>{format!("{} · {} {}", shared::clock::beijing(h.at), h.action, h.detail.get("comment").and_then(|c| c.as_str()).unwrap_or(""))}</li>
            }).collect_view()}</ul>
        </div>
    }
}

/// A photo over everything; a click toggles full size, a click outside closes.
#[component]
pub fn ZoomOverlay(zoom: RwSignal<Option<(String, bool)>>) -> impl IntoView {
    move || {
        zoom.get().map(|(u, full)| {
            view! {
                <div class="overlay" id="zoom" on:click=move |_| zoom.set(None)>
                    <img src=u.clone() class:full=full on:click=move |ev| { ev.stop_propagation(); zoom.update(|z| if let Some(z) = z { z.1 = !z.1 }); }/>
                </div>
            }
        })
    }
}
