//! The inspection form for the four kinds. The whole record lives in one signal; every input
//! updates it; validation is `shared::validate` run in the browser (every error at once), the
//! same code the app core and the server run.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::inspection::*;
use shared::site::{Site, SiteDetails, SiteStatus};
use shared::validate::validate_against_site;
use shared::{FieldError, InspectionId, SiteId};
use time::OffsetDateTime;
use wasm_bindgen::JsCast;

use super::position::PositionCard;
use crate::api;
use crate::app::{Page, ctx};
use crate::i18n::{
    colour_label, error_text, flag_text, kind_label, odour_label, running_label, site_status_label,
    task_source_label,
};

const SHANGHAI_SECS: i32 = 8 * 3600;

fn shanghai() -> time::UtcOffset {
    time::UtcOffset::from_whole_seconds(SHANGHAI_SECS).unwrap_or(time::UtcOffset::UTC)
}

fn default_checklist(items: &[&str]) -> Vec<ChecklistItem> {
    items
        .iter()
        .map(|s| ChecklistItem { item: (*s).into(), result: ChecklistResult::NoProblem, note: String::new() })
        .collect()
}

/// A new, empty record of `kind` for `site`, prefilled from what the site knows.
pub fn blank(kind: InspectionKind, site: &Site) -> Inspection {
    // Minute precision, as the time inputs show it.
    let t = crate::i18n::now();
    let t = t
        - time::Duration::seconds(i64::from(t.second()))
        - time::Duration::nanoseconds(i64::from(t.nanosecond()));
    let body = match kind {
        InspectionKind::WaterBody => InspectionBody::WaterBody(WaterBodyBody {
            colour: ColourGrade::Normal,
            odour: OdourGrade::None,
            water_depth_cm: None,
            transparency_cm: None,
            dissolved_oxygen_mg_l: None,
            orp_mv: None,
            ammonia_n_mg_l: None,
            public_survey_pct: None,
        }),
        InspectionKind::SewageFacility => InspectionBody::SewageFacility(SewageFacilityBody {
            running_state: FacilityRunningState::Running,
            inlet_observation: String::new(),
            outlet_observation: String::new(),
            readings: vec![],
        }),
        InspectionKind::VillageRemediation => InspectionBody::VillageRemediation(VillageRemediationBody {
            checklist: default_checklist(&["生活垃圾收运处置", "生活污水治理", "农村厕所改造", "村容村貌"]),
            sewage_treated: None,
            summary: String::new(),
        }),
        InspectionKind::Enforcement => {
            let (name, uscc, rep) = match &site.details {
                SiteDetails::Enterprise(e) => {
                    (site.name.clone(), e.uscc.clone(), e.legal_representative.clone())
                }
                _ => (String::new(), String::new(), String::new()),
            };
            let officer = || EnforcementOfficer { name: String::new(), credential_no: String::new() };
            let signed = || Signature::named(String::new());
            InspectionBody::Enforcement(Box::new(EnforcementBody {
                started_at: t,
                ended_at: t,
                place: String::new(),
                party: InspectedParty { name, uscc, legal_representative: rep },
                person_present: String::new(),
                inspectors: vec![officer(), officer()],
                recorder: String::new(),
                task_source: TaskSource::Routine,
                checklist: default_checklist(&[
                    "污染防治设施运行",
                    "排污口设置",
                    "危险废物管理",
                    "环境管理台账",
                ]),
                findings: String::new(),
                violations: vec![],
                rectification_deadline: None,
                party_signature: signed(),
                inspector_signatures: vec![signed(), signed()],
                witness_signature: None,
                recorder_signature: None,
            }))
        }
    };
    Inspection {
        schema_version: INSPECTION_SCHEMA_VERSION,
        id: InspectionId::new(),
        version: 1,
        replaces_version: None,
        site_id: site.id,
        body,
        position: None,
        device_time: t,
        photos: vec![],
        proposed_status: None,
        notes: String::new(),
        document: None,
    }
}

#[component]
pub fn NewInspection(site: SiteId, kind: InspectionKind) -> impl IntoView {
    let loaded = RwSignal::new(None::<(Site, Inspection)>);
    spawn_local(async move {
        if let Ok((s, _)) = api::site(site).await {
            let i = blank(kind, &s);
            loaded.set(Some((s, i)));
        }
    });
    view! { {move || loaded.get().map(|(s, i)| view! { <InspectionForm site=s initial=i/> })} }
}

#[component]
pub fn EditInspection(id: InspectionId) -> impl IntoView {
    let ctx = ctx();
    let loaded = RwSignal::new(None::<(Site, Inspection)>);
    spawn_local(async move {
        match api::record(id).await {
            Ok(d) => {
                if let Some(s) = d.site {
                    loaded.set(Some((s, d.inspection)));
                }
            }
            Err(e) => ctx.notice.set(Some(e.message)),
        }
    });
    view! { {move || loaded.get().map(|(s, i)| view! { <InspectionForm site=s initial=i/> })} }
}

pub(super) fn parse_num(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() { None } else { s.parse().ok().or(Some(f64::NAN)) }
}

fn num_str(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// Errors whose field is `field` or lies below it.
fn errors_for(all: &[FieldError], field: &str) -> Vec<FieldError> {
    all.iter()
        .filter(|e| {
            e.field == field
                || e.field.starts_with(&format!("{field}."))
                || e.field.starts_with(&format!("{field}["))
        })
        .cloned()
        .collect()
}

#[component]
pub(super) fn Errs(#[prop(into)] field: String, errors: Signal<Vec<FieldError>>) -> impl IntoView {
    let ctx = ctx();
    let f = field.clone();
    view! {
        {move || errors_for(&errors.get(), &f).into_iter().map(|e| view! {
            <div class="err" data-error-for=e.field.clone()>{error_text(ctx.lang.get(), &e)}</div>
        }).collect_view()}
    }
}

fn dt_local(t: OffsetDateTime) -> String {
    let t = t.to_offset(shanghai());
    format!("{:04}-{:02}-{:02}T{:02}:{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

fn parse_dt_local(s: &str) -> Option<OffsetDateTime> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    time::PrimitiveDateTime::parse(s, fmt).ok().map(|p| p.assume_offset(shanghai()))
}

#[component]
pub fn InspectionForm(site: Site, initial: Inspection) -> impl IntoView {
    let ctx = ctx();
    let insp = RwSignal::new(initial.clone());
    let site_kind = site.kind();
    let site_for_check = site.clone();
    let show = RwSignal::new(false);
    let server_errors = RwSignal::new(Vec::<FieldError>::new());
    let busy = RwSignal::new(false);
    let photo_busy = RwSignal::new(false);
    let errors = Signal::derive(move || {
        if !show.get() {
            return Vec::new();
        }
        let mut e = validate_against_site(&insp.get(), &site_for_check);
        for s in server_errors.get() {
            if !e.contains(&s) {
                e.push(s);
            }
        }
        e
    });
    // Errors the app core reported for the last save go stale as soon as the record changes.
    Effect::new(move |_| {
        insp.track();
        server_errors.set(Vec::new());
    });
    let site_for_status = site.clone();
    let site_position = site.position;
    let kind = initial.kind();
    let id = initial.id;

    let save = move |then_submit: bool| {
        show.set(true);
        busy.set(true);
        spawn_local(async move {
            let i = insp.get_untracked();
            match api::save_draft(&i).await {
                Ok(r) => {
                    server_errors.set(r.errors.clone());
                    if then_submit {
                        match api::submit(i.id).await {
                            Ok(_) => {
                                ctx.go(Page::Record(i.id));
                                ctx.notice.set(Some(ctx.t("queued").into()));
                            }
                            Err(e) => {
                                server_errors.set(e.fields.clone());
                                ctx.notice.set(Some(e.message));
                            }
                        }
                    } else {
                        ctx.notice.set(Some(ctx.t("saved").into()));
                    }
                }
                Err(e) => {
                    server_errors.set(e.fields.clone());
                    ctx.notice.set(Some(e.message));
                }
            }
            busy.set(false);
        });
    };

    let on_files = move |ev: leptos::ev::Event| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else {
            return;
        };
        let Some(files) = input.files() else { return };
        let list: Vec<web_sys::File> = (0..files.length()).filter_map(|n| files.item(n)).collect();
        input.set_value("");
        photo_busy.set(true);
        spawn_local(async move {
            for f in list {
                let Ok(buf) = wasm_bindgen_futures::JsFuture::from(f.array_buffer()).await else { continue };
                let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                let pos = insp.get_untracked().position;
                match api::add_photo(&bytes, insp.get_untracked().site_id, pos.as_ref()).await {
                    Ok(p) => insp.update(|i| {
                        // A photo's EXIF position fills an empty position.
                        if i.position.is_none()
                            && let Some(pt) = p.exif_position
                        {
                            i.position = Some(Position::new(pt, PositionSource::Exif));
                        }
                        if !i.photos.iter().any(|x| x.sha256 == p.sha256) {
                            i.photos.push(p);
                        }
                    }),
                    Err(e) => ctx.notice.set(Some(format!("{}：{}", f.name(), e.message))),
                }
            }
            photo_busy.set(false);
        });
    };

    // Only statuses the site can move to from where it is (the server checks the same rule).
    let statuses: Vec<SiteStatus> = SiteStatus::ALL
        .into_iter()
        .filter(|s| s.applies_to(site_kind))
        .filter(|s| match site.status {
            Some(from) => *s == from || shared::site::check_transition(site_kind, from, *s).is_ok(),
            None => true,
        })
        .collect();

    view! {
        <p><button on:click=move |_| ctx.go(Page::Site(site_for_status.id))>{move || ctx.t("back")}</button></p>
        <div class="card">
            <h2 id="form-title">{site.name.clone()}" · "{move || kind_label(ctx.lang.get(), kind)}
                {(initial.version > 1).then(|| format!(" v{}", initial.version))}</h2>
            {match kind {
                InspectionKind::WaterBody => view! { <WaterFields insp=insp errors=errors/> }.into_any(),
                InspectionKind::SewageFacility => view! { <SewageFields insp=insp errors=errors/> }.into_any(),
                InspectionKind::Enforcement => view! { <EnforcementFields insp=insp errors=errors/> }.into_any(),
                InspectionKind::VillageRemediation => view! { <VillageFields insp=insp errors=errors/> }.into_any(),
            }}
        </div>
        <div class="card">
            <h3>{move || ctx.t("photos")}</h3>
            <PhotoStrip photos=Signal::derive(move || insp.get().photos.iter().map(|p| p.sha256.clone()).collect::<Vec<_>>())
                on_remove=Some(Callback::new(move |sha: String| insp.update(|i| i.photos.retain(|p| p.sha256 != sha))))/>
            <label class="button" style="display:inline-block;margin-top:8px">
                {move || if photo_busy.get() { ctx.t("processing_photo") } else { ctx.t("add_photo") }}
                <input id="photo-input" type="file" accept="image/jpeg,image/png" capture="environment" multiple style="display:none" prop:disabled=move || busy.get() on:change=on_files/>
            </label>
            <Errs field="photos" errors=errors/>
        </div>
        <div class="card">
            <PositionCard insp=insp site_position=site_position errors=errors/>
            {move || {
                let f = shared::flags::flags(&insp.get(), site_position, &shared::flags::FlagThresholds::default());
                (!f.is_empty()).then(|| view! {
                    <div class="warn" id="position-flags"><strong>{move || ctx.t("warnings")}</strong>
                        <ul>{f.iter().map(|x| view! { <li>{flag_text(ctx.lang.get(), x)}</li> }).collect_view()}</ul></div>
                })
            }}
            <label>{move || ctx.t("proposed_status")}</label>
            <select id="f-proposed" on:change=move |ev| { let v = event_target_value(&ev); insp.update(|i| i.proposed_status = SiteStatus::parse(&v)) }>
                <option value="">{move || ctx.t("no_change")}</option>
                {statuses.into_iter().map(|s| view! {
                    <option value=s.as_str() selected=initial.proposed_status == Some(s)>{move || site_status_label(ctx.lang.get(), s)}</option>
                }).collect_view()}
            </select>
            <Errs field="proposed_status" errors=errors/>
            <label>{move || ctx.t("notes")}</label>
            <textarea id="f-notes" on:input=move |ev| { let v = event_target_value(&ev); insp.update(|i| i.notes = v) }>{initial.notes.clone()}</textarea>
            <Errs field="notes" errors=errors/>
        </div>
        {(kind == InspectionKind::Enforcement).then(|| view! { <super::signing::DocumentsCard insp=insp/> })}
        {move || (show.get() && !errors.get().is_empty()).then(|| view! {
            <div class="card err" id="form-errors">{errors.get().len()}" · "{move || ctx.t("warnings")}</div>
        })}
        <div class="row" style="margin-bottom:40px">
            <button id="save-draft" prop:disabled=move || busy.get() || photo_busy.get() on:click=move |_| save(false)>{move || ctx.t("save_draft")}</button>
            <button id="submit-form" class="primary" prop:disabled=move || busy.get() || photo_busy.get() on:click=move |_| save(true)>{move || ctx.t("submit")}</button>
            <button on:click=move |_| ctx.go(Page::Record(id))>{move || ctx.t("records")}</button>
        </div>
    }
}

/// Thumbnails of photos kept on the device; removable while editing.
#[component]
pub fn PhotoStrip(
    #[prop(into)] photos: Signal<Vec<String>>,
    on_remove: Option<Callback<String>>,
) -> impl IntoView {
    view! {
        <div class="thumbs" id="thumbs">
            {move || photos.get().into_iter().map(|sha| {
                let src = RwSignal::new(String::new());
                let s2 = sha.clone();
                spawn_local(async move {
                    if let Ok(u) = api::thumbnail(&s2).await {
                        src.set(u);
                    }
                });
                let s3 = sha.clone();
                view! {
                    <figure data-photo=sha.clone()>
                        <img alt=sha.clone() src=move || src.get()/>
                        {on_remove.map(|cb| view! { <button class="danger" on:click=move |_| cb.run(s3.clone())>"×"</button> })}
                    </figure>
                }
            }).collect_view()}
        </div>
    }
}

fn with_water(insp: RwSignal<Inspection>, f: impl FnOnce(&mut WaterBodyBody)) {
    insp.update(|i| {
        if let InspectionBody::WaterBody(w) = &mut i.body {
            f(w)
        }
    })
}

#[component]
fn NumField(
    id: &'static str,
    key: &'static str,
    field: &'static str,
    initial: Option<f64>,
    errors: Signal<Vec<FieldError>>,
    set: Callback<Option<f64>>,
) -> impl IntoView {
    let ctx = ctx();
    view! {
        <div>
            <label for=id>{move || ctx.t(key)}</label>
            <input id=id inputmode="decimal" value=num_str(initial) on:input=move |ev| set.run(parse_num(&event_target_value(&ev)))/>
            <Errs field=field errors=errors/>
        </div>
    }
}

#[component]
fn WaterFields(insp: RwSignal<Inspection>, errors: Signal<Vec<FieldError>>) -> impl IntoView {
    let ctx = ctx();
    let InspectionBody::WaterBody(w0) = insp.get_untracked().body else { return ().into_any() };
    let judgement = move || match insp.get().body {
        InspectionBody::WaterBody(w) => {
            let j = shared::thresholds::BlackOdorousThresholds::default().judge(&w);
            crate::i18n::judgement_text(ctx.lang.get(), &j)
        }
        _ => String::new(),
    };
    view! {
        <div class="row">
            <div><label>{move || ctx.t("colour")}</label>
                <select id="f-colour" on:change=move |ev| { let v = event_target_value(&ev); with_water(insp, |w| w.colour = serde_json::from_value(serde_json::Value::String(v)).unwrap_or(ColourGrade::Normal)) }>
                    {[ColourGrade::Normal, ColourGrade::Greyish, ColourGrade::Dark, ColourGrade::Black].into_iter().map(|c| view! {
                        <option value=serde_json::to_value(c).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default() selected=w0.colour == c>{move || colour_label(ctx.lang.get(), c)}</option>
                    }).collect_view()}
                </select></div>
            <div><label>{move || ctx.t("odour")}</label>
                <select id="f-odour" on:change=move |ev| { let v = event_target_value(&ev); with_water(insp, |w| w.odour = serde_json::from_value(serde_json::Value::String(v)).unwrap_or(OdourGrade::None)) }>
                    {[OdourGrade::None, OdourGrade::Slight, OdourGrade::Noticeable, OdourGrade::Strong].into_iter().map(|o| view! {
                        <option value=serde_json::to_value(o).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default() selected=w0.odour == o>{move || odour_label(ctx.lang.get(), o)}</option>
                    }).collect_view()}
                </select></div>
        </div>
        <div class="grid">
            <NumField id="f-depth" key="depth" field="body.water_depth_cm" initial=w0.water_depth_cm errors=errors set=Callback::new(move |v| with_water(insp, |w| w.water_depth_cm = v))/>
            <NumField id="f-transparency" key="transparency" field="body.transparency_cm" initial=w0.transparency_cm errors=errors set=Callback::new(move |v| with_water(insp, |w| w.transparency_cm = v))/>
            <NumField id="f-do" key="do" field="body.dissolved_oxygen_mg_l" initial=w0.dissolved_oxygen_mg_l errors=errors set=Callback::new(move |v| with_water(insp, |w| w.dissolved_oxygen_mg_l = v))/>
            <NumField id="f-orp" key="orp" field="body.orp_mv" initial=w0.orp_mv errors=errors set=Callback::new(move |v| with_water(insp, |w| w.orp_mv = v))/>
            <NumField id="f-nh3n" key="nh3n" field="body.ammonia_n_mg_l" initial=w0.ammonia_n_mg_l errors=errors set=Callback::new(move |v| with_water(insp, |w| w.ammonia_n_mg_l = v))/>
            <NumField id="f-survey" key="survey" field="body.public_survey_pct" initial=w0.public_survey_pct errors=errors set=Callback::new(move |v| with_water(insp, |w| w.public_survey_pct = v))/>
        </div>
        <p><strong>{move || ctx.t("judgement")}"："</strong><span id="judgement">{judgement}</span></p>
    }
    .into_any()
}

fn with_sewage(insp: RwSignal<Inspection>, f: impl FnOnce(&mut SewageFacilityBody)) {
    insp.update(|i| {
        if let InspectionBody::SewageFacility(b) = &mut i.body {
            f(b)
        }
    })
}

fn set_reading(insp: RwSignal<Inspection>, ind: SewageIndicator, v: Option<f64>) {
    with_sewage(insp, |b| {
        b.readings.retain(|r| r.indicator != ind);
        if let Some(value) = v {
            b.readings.push(Reading { indicator: ind, value });
        }
    })
}

#[component]
fn SewageFields(insp: RwSignal<Inspection>, errors: Signal<Vec<FieldError>>) -> impl IntoView {
    let ctx = ctx();
    let InspectionBody::SewageFacility(b0) = insp.get_untracked().body else { return ().into_any() };
    let reading = |ind: SewageIndicator| b0.readings.iter().find(|r| r.indicator == ind).map(|r| r.value);
    let inds = [
        (SewageIndicator::Cod, "COD (mg/L)"),
        (SewageIndicator::Nh3n, "NH3-N (mg/L)"),
        (SewageIndicator::Tp, "TP (mg/L)"),
        (SewageIndicator::Ss, "SS (mg/L)"),
        (SewageIndicator::Ph, "pH"),
    ];
    view! {
        <label>{move || ctx.t("running_state")}</label>
        <select id="f-running" on:change=move |ev| { let v = event_target_value(&ev); with_sewage(insp, |b| b.running_state = serde_json::from_value(serde_json::Value::String(v)).unwrap_or(FacilityRunningState::Running)) }>
            {[FacilityRunningState::Running, FacilityRunningState::Faulty, FacilityRunningState::Stopped].into_iter().map(|r| view! {
                <option value=serde_json::to_value(r).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default() selected=b0.running_state == r>{move || running_label(ctx.lang.get(), r)}</option>
            }).collect_view()}
        </select>
        <label>{move || ctx.t("inlet")}</label>
        <input id="f-inlet" value=b0.inlet_observation.clone() on:input=move |ev| { let v = event_target_value(&ev); with_sewage(insp, |b| b.inlet_observation = v) }/>
        <Errs field="body.inlet_observation" errors=errors/>
        <label>{move || ctx.t("outlet")}</label>
        <input id="f-outlet" value=b0.outlet_observation.clone() on:input=move |ev| { let v = event_target_value(&ev); with_sewage(insp, |b| b.outlet_observation = v) }/>
        <Errs field="body.outlet_observation" errors=errors/>
        <h3>{move || ctx.t("readings")}</h3>
        <div class="grid">
            {inds.into_iter().map(|(ind, label)| view! {
                <div><label>{label}</label>
                    <input inputmode="decimal" value=num_str(reading(ind)) on:input=move |ev| set_reading(insp, ind, parse_num(&event_target_value(&ev)))/></div>
            }).collect_view()}
        </div>
        <Errs field="body.readings" errors=errors/>
    }
    .into_any()
}

fn with_enf(insp: RwSignal<Inspection>, f: impl FnOnce(&mut EnforcementBody)) {
    insp.update(|i| {
        if let InspectionBody::Enforcement(b) = &mut i.body {
            f(b)
        }
    })
}

#[component]
fn TextField(
    id: &'static str,
    key: &'static str,
    field: &'static str,
    initial: String,
    errors: Signal<Vec<FieldError>>,
    set: Callback<String>,
    #[prop(optional)] multiline: bool,
) -> impl IntoView {
    let ctx = ctx();
    view! {
        <label for=id>{move || ctx.t(key)}</label>
        {if multiline {
            view! { <textarea id=id on:input=move |ev| set.run(event_target_value(&ev))>{initial}</textarea> }.into_any()
        } else {
            view! { <input id=id value=initial on:input=move |ev| set.run(event_target_value(&ev))/> }.into_any()
        }}
        <Errs field=field errors=errors/>
    }
}

#[component]
fn EnforcementFields(insp: RwSignal<Inspection>, errors: Signal<Vec<FieldError>>) -> impl IntoView {
    let ctx = ctx();
    let InspectionBody::Enforcement(b0) = insp.get_untracked().body else { return ().into_any() };
    let officers = RwSignal::new(b0.inspectors.len());
    let refused = RwSignal::new(matches!(b0.party_signature, Signature::Refused { .. }));
    view! {
        <div class="row">
            <div><label>{move || ctx.t("started_at")}</label>
                <input id="f-started" type="datetime-local" value=dt_local(b0.started_at) on:change=move |ev| if let Some(t) = parse_dt_local(&event_target_value(&ev)) { with_enf(insp, |b| b.started_at = t) }/></div>
            <div><label>{move || ctx.t("ended_at")}</label>
                <input id="f-ended" type="datetime-local" value=dt_local(b0.ended_at) on:change=move |ev| if let Some(t) = parse_dt_local(&event_target_value(&ev)) { with_enf(insp, |b| b.ended_at = t) }/></div>
        </div>
        <Errs field="body.ended_at" errors=errors/>
        <TextField id="f-place" key="place" field="body.place" initial=b0.place.clone() errors=errors set=Callback::new(move |v| with_enf(insp, |b| b.place = v))/>
        <div class="row">
            <div><TextField id="f-party" key="party" field="body.party.name" initial=b0.party.name.clone() errors=errors set=Callback::new(move |v| with_enf(insp, |b| b.party.name = v))/></div>
            <div><TextField id="f-uscc" key="uscc" field="body.party.uscc" initial=b0.party.uscc.clone() errors=errors set=Callback::new(move |v: String| with_enf(insp, |b| b.party.uscc = v.trim().to_uppercase()))/></div>
        </div>
        <div class="row">
            <div><TextField id="f-legal" key="legal_rep" field="body.party.legal_representative" initial=b0.party.legal_representative.clone() errors=errors set=Callback::new(move |v| with_enf(insp, |b| b.party.legal_representative = v))/></div>
            <div><TextField id="f-present" key="person_present" field="body.person_present" initial=b0.person_present.clone() errors=errors set=Callback::new(move |v| with_enf(insp, |b| b.person_present = v))/></div>
        </div>
        <h3>{move || ctx.t("officers")}</h3>
        {move || (0..officers.get()).map(|n| {
            let cur = match insp.get_untracked().body { InspectionBody::Enforcement(b) => b.inspectors.get(n).cloned(), _ => None }.unwrap_or(EnforcementOfficer { name: String::new(), credential_no: String::new() });
            view! {
                <div class="officer">
                    <div><label>{move || ctx.t("officer_name")}</label>
                        <input class="f-officer-name" value=cur.name.clone() on:input=move |ev| { let v = event_target_value(&ev); with_enf(insp, |b| if let Some(o) = b.inspectors.get_mut(n) { o.name = v.clone(); if let Some(Signature::Signed { signer, .. }) = b.inspector_signatures.get_mut(n) { *signer = v; } }) }/></div>
                    <div><label>{move || ctx.t("credential")}</label>
                        <input class="f-officer-credential" value=cur.credential_no.clone() on:input=move |ev| { let v = event_target_value(&ev); with_enf(insp, |b| if let Some(o) = b.inspectors.get_mut(n) { o.credential_no = v }) }/></div>
                    <div><Errs field=format!("body.inspectors[{n}]") errors=errors/></div>
                </div>
            }
        }).collect_view()}
        <Errs field="body.inspectors" errors=errors/>
        <p class="row">
            <button id="add-officer" on:click=move |_| { with_enf(insp, |b| { b.inspectors.push(EnforcementOfficer { name: String::new(), credential_no: String::new() }); b.inspector_signatures.push(Signature::named(String::new())); }); officers.update(|n| *n += 1) }>{move || ctx.t("add_officer")}</button>
            {move || (officers.get() > 2).then(|| view! {
                <button id="remove-officer" class="danger" on:click=move |_| { with_enf(insp, |b| { b.inspectors.pop(); b.inspector_signatures.pop(); }); officers.update(|n| *n -= 1) }>{move || ctx.t("remove_officer")}</button>
            })}
        </p>
        <div class="row">
            <div><TextField id="f-recorder" key="recorder" field="body.recorder" initial=b0.recorder.clone() errors=errors set=Callback::new(move |v| with_enf(insp, |b| b.recorder = v))/></div>
            <div><label>{move || ctx.t("task_source")}</label>
                <select id="f-source" on:change=move |ev| { let v = event_target_value(&ev); with_enf(insp, |b| b.task_source = serde_json::from_value(serde_json::Value::String(v)).unwrap_or(TaskSource::Routine)) }>
                    {[TaskSource::Routine, TaskSource::SpecialCampaign, TaskSource::Complaint, TaskSource::Referral, TaskSource::Patrol].into_iter().map(|s| view! {
                        <option value=serde_json::to_value(s).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default() selected=b0.task_source == s>{move || task_source_label(ctx.lang.get(), s)}</option>
                    }).collect_view()}
                </select></div>
        </div>
        <Checklist insp=insp errors=errors/>
        <TextField id="f-findings" key="findings" field="body.findings" initial=b0.findings.clone() errors=errors multiline=true set=Callback::new(move |v| with_enf(insp, |b| b.findings = v))/>
        <TextField id="f-violations" key="violations" field="body.violations" initial=b0.violations.join("\n") errors=errors multiline=true
            set=Callback::new(move |v: String| with_enf(insp, |b| b.violations = v.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()))/>
        <label>{move || ctx.t("deadline")}</label>
        <input id="f-deadline" type="date" value=b0.rectification_deadline.map(|d| d.to_string()).unwrap_or_default()
            on:change=move |ev| { let v = event_target_value(&ev); with_enf(insp, |b| b.rectification_deadline = time::Date::parse(&v, time::macros::format_description!("[year]-[month]-[day]")).ok()) }/>
        <Errs field="body.rectification_deadline" errors=errors/>
        <label>{move || ctx.t("party_signature")}</label>
        <select id="f-party-signature" on:change=move |ev| { let r = event_target_value(&ev) == "refused"; refused.set(r); with_enf(insp, |b| b.party_signature = if r { Signature::Refused { reason: String::new() } } else { Signature::named(b.person_present.clone()) }) }>
            <option value="signed" selected=!refused.get_untracked()>{move || ctx.t("signed")}</option>
            <option value="refused" selected=refused.get_untracked()>{move || ctx.t("refused_to_sign")}</option>
        </select>
        {move || refused.get().then(|| view! {
            <TextField id="f-refusal" key="refusal_reason" field="body.party_signature"
                initial=match insp.get_untracked().body { InspectionBody::Enforcement(b) => match b.party_signature { Signature::Refused { reason } => reason, _ => String::new() }, _ => String::new() }
                errors=errors set=Callback::new(move |v| with_enf(insp, |b| b.party_signature = Signature::Refused { reason: v }))/>
        })}
    }
    .into_any()
}

#[component]
fn Checklist(insp: RwSignal<Inspection>, errors: Signal<Vec<FieldError>>) -> impl IntoView {
    let ctx = ctx();
    let items = match insp.get_untracked().body {
        InspectionBody::Enforcement(b) => b.checklist,
        InspectionBody::VillageRemediation(v) => v.checklist,
        _ => vec![],
    };
    let update = move |n: usize, f: Box<dyn FnOnce(&mut ChecklistItem)>| {
        insp.update(|i| {
            let list = match &mut i.body {
                InspectionBody::Enforcement(b) => &mut b.checklist,
                InspectionBody::VillageRemediation(v) => &mut v.checklist,
                _ => return,
            };
            if let Some(it) = list.get_mut(n) {
                f(it)
            }
        })
    };
    let label = move |r: ChecklistResult| crate::i18n::checklist_label(ctx.lang.get(), r);
    view! {
        <h3>{move || ctx.t("checklist")}</h3>
        {items.into_iter().enumerate().map(|(n, it)| view! {
            <div class="officer">
                <div><strong>{it.item.clone()}</strong>
                    <select class="f-check" on:change=move |ev| { let v = event_target_value(&ev); update(n, Box::new(move |x| x.result = serde_json::from_value(serde_json::Value::String(v)).unwrap_or(ChecklistResult::NoProblem))) }>
                        {ChecklistResult::ALL.into_iter().map(|r| view! {
                            <option value=serde_json::to_value(r).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default() selected=it.result == r>{move || label(r)}</option>
                        }).collect_view()}
                    </select></div>
                <div><input class="f-check-note" value=it.note.clone() on:input=move |ev| { let v = event_target_value(&ev); update(n, Box::new(move |x| x.note = v)) }/></div>
                <div><Errs field=format!("body.checklist[{n}]") errors=errors/></div>
            </div>
        }).collect_view()}
    }
}

fn with_village(insp: RwSignal<Inspection>, f: impl FnOnce(&mut VillageRemediationBody)) {
    insp.update(|i| {
        if let InspectionBody::VillageRemediation(b) = &mut i.body {
            f(b)
        }
    })
}

#[component]
fn VillageFields(insp: RwSignal<Inspection>, errors: Signal<Vec<FieldError>>) -> impl IntoView {
    let ctx = ctx();
    let InspectionBody::VillageRemediation(v0) = insp.get_untracked().body else { return ().into_any() };
    view! {
        <Checklist insp=insp errors=errors/>
        <label>{move || ctx.t("sewage_treated")}</label>
        <select id="f-sewage-treated" on:change=move |ev| { let v = event_target_value(&ev); with_village(insp, |b| b.sewage_treated = match v.as_str() { "yes" => Some(true), "no" => Some(false), _ => None }) }>
            <option value="" selected=v0.sewage_treated.is_none()>{move || ctx.t("unknown")}</option>
            <option value="yes" selected=v0.sewage_treated == Some(true)>"✓"</option>
            <option value="no" selected=v0.sewage_treated == Some(false)>"✗"</option>
        </select>
        <TextField id="f-summary" key="summary" field="body.summary" initial=v0.summary.clone() errors=errors multiline=true set=Callback::new(move |v| with_village(insp, |b| b.summary = v))/>
    }
    .into_any()
}
