//! Signing on site and the record's documents: the signature pad (finger or stylus, smoothed
//! strokes, undo and clear), the list of who must sign in which role, and the document preview.
//! The rules (who must sign, what a signature covers, clearing on edit) live in `shared` and
//! the app core; this module only draws and calls the typed commands.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::documents::{DocumentKind, documents_for};
use shared::inspection::{Inspection, InspectionBody, Signature, SignerRole};

use crate::api;
use crate::app::ctx;
use crate::i18n::Lang;

type Stroke = Vec<(f64, f64)>;

/// Draw every stroke again, each as quadratic curves through the midpoints of its samples
/// (smooth at any pointer rate).
fn redraw(canvas: &web_sys::HtmlCanvasElement, strokes: &[Stroke]) {
    let Some(g) = crate::canvas::context_2d(canvas) else { return };
    g.clear_rect(0.0, 0.0, f64::from(canvas.width()), f64::from(canvas.height()));
    g.set_stroke_style_str("#14183c");
    g.set_line_width(6.0);
    g.set_line_cap("round");
    g.set_line_join("round");
    for s in strokes {
        let Some(&(x0, y0)) = s.first() else { continue };
        g.begin_path();
        g.move_to(x0, y0);
        if s.len() == 1 {
            g.line_to(x0 + 0.1, y0 + 0.1);
        }
        for w in s.windows(2) {
            let ((x1, y1), (x2, y2)) = (w[0], w[1]);
            g.quadratic_curve_to(x1, y1, (x1 + x2) / 2.0, (y1 + y2) / 2.0);
        }
        if let Some(&(xl, yl)) = s.last() {
            g.line_to(xl, yl);
        }
        g.stroke();
    }
}

/// The pad: a wide canvas (2.67:1, the full width of the screen in either orientation), pointer
/// events only, so finger, stylus and mouse draw alike. `on_done` gets the PNG as base64.
#[component]
pub fn SignaturePad(title: String, on_done: Callback<String>, on_cancel: Callback<()>) -> impl IntoView {
    let ctx = ctx();
    let canvas = NodeRef::<html::Canvas>::new();
    let strokes = StoredValue::new(Vec::<Stroke>::new());
    let count = RwSignal::new(0usize);
    let drawing = StoredValue::new(false);
    let point = move |ev: &web_sys::PointerEvent| -> Option<(f64, f64)> {
        let c = canvas.get()?;
        let r = c.get_bounding_client_rect();
        let sx = f64::from(c.width()) / r.width().max(1.0);
        let sy = f64::from(c.height()) / r.height().max(1.0);
        Some(((f64::from(ev.client_x()) - r.left()) * sx, (f64::from(ev.client_y()) - r.top()) * sy))
    };
    let down = move |ev: web_sys::PointerEvent| {
        ev.prevent_default();
        if let Some(c) = canvas.get() {
            let _ = c.set_pointer_capture(ev.pointer_id());
        }
        if let Some(p) = point(&ev) {
            drawing.set_value(true);
            strokes.update_value(|s| s.push(vec![p]));
            count.update(|n| *n += 1);
        }
    };
    let moved = move |ev: web_sys::PointerEvent| {
        if !drawing.get_value() {
            return;
        }
        ev.prevent_default();
        if let (Some(p), Some(c)) = (point(&ev), canvas.get()) {
            strokes.update_value(|s| {
                if let Some(last) = s.last_mut() {
                    last.push(p);
                }
            });
            strokes.with_value(|s| redraw(&c, s));
        }
    };
    let up = move |_: web_sys::PointerEvent| {
        drawing.set_value(false);
        if let Some(c) = canvas.get() {
            strokes.with_value(|s| redraw(&c, s));
        }
    };
    let undo = move |_| {
        strokes.update_value(|s| {
            s.pop();
        });
        count.update(|n| *n = n.saturating_sub(1));
        if let Some(c) = canvas.get() {
            strokes.with_value(|s| redraw(&c, s));
        }
    };
    let clear = move |_| {
        strokes.set_value(Vec::new());
        count.set(0);
        if let Some(c) = canvas.get() {
            redraw(&c, &[]);
        }
    };
    let done = move |_| {
        let Some(c) = canvas.get() else { return };
        if let Ok(url) = c.to_data_url_with_type("image/png")
            && let Some(b64) = url.strip_prefix("data:image/png;base64,")
        {
            on_done.run(b64.to_string());
        }
    };
    view! {
        <div class="pad-overlay" id="signature-pad">
            <div class="pad">
                <h3>{title}</h3>
                <p class="muted">{move || ctx.t("sign_here")}</p>
                <canvas node_ref=canvas id="pad-canvas" width="1200" height="450"
                    style="width:100%;aspect-ratio:1200/450;touch-action:none;background:#fff;border:1px solid #bbb;border-radius:6px"
                    on:pointerdown=down on:pointermove=moved on:pointerup=up on:pointercancel=up></canvas>
                <div class="row">
                    <button id="pad-undo" prop:disabled=move || count.get() == 0 on:click=undo>{move || ctx.t("undo_stroke")}</button>
                    <button id="pad-clear" prop:disabled=move || count.get() == 0 on:click=clear>{move || ctx.t("clear")}</button>
                    <button id="pad-cancel" on:click=move |_| on_cancel.run(())>{move || ctx.t("cancel")}</button>
                    <button id="pad-ok" class="primary" prop:disabled=move || count.get() == 0 on:click=done>{move || ctx.t("confirm_signature")}</button>
                </div>
            </div>
        </div>
    }
}

fn role_key(r: SignerRole) -> String {
    match r {
        SignerRole::Party => "party".into(),
        SignerRole::Inspector(n) => format!("inspector-{n}"),
        SignerRole::Recorder => "recorder".into(),
        SignerRole::Witness => "witness".into(),
    }
}

fn role_label(lang: Lang, r: SignerRole) -> String {
    match (lang, r) {
        (Lang::Zh, SignerRole::Inspector(n)) => format!("执法人员 {}", n + 1),
        (Lang::Zh, r) => r.label_zh().into(),
        (Lang::En, SignerRole::Party) => "Party's person in charge".into(),
        (Lang::En, SignerRole::Inspector(n)) => format!("Inspector {}", n + 1),
        (Lang::En, SignerRole::Recorder) => "Recorder".into(),
        (Lang::En, SignerRole::Witness) => "Witness".into(),
    }
}

/// Who signs, and the name printed beside the signature (the form's order, from `shared`).
fn signers(i: &Inspection) -> Vec<(SignerRole, String, Option<Signature>)> {
    let InspectionBody::Enforcement(e) = &i.body else { return Vec::new() };
    e.signing_slots().into_iter().map(|s| (s.role, s.name, s.signature)).collect()
}

/// The documents card of a draft: numbers, signatures by role, preview of each document. The
/// form's content is saved before numbers are taken or anything is signed: the core prepares and
/// signs what is saved.
#[component]
pub fn DocumentsCard(insp: RwSignal<Inspection>) -> impl IntoView {
    let ctx = ctx();
    let pad_for = RwSignal::new(None::<(SignerRole, String)>);
    let witness_name = RwSignal::new(String::new());
    // The previewed document: its kind and a `blob:` URL of its PDF.
    let preview = RwSignal::new(None::<(DocumentKind, String)>);
    let busy = RwSignal::new(false);
    let report = move |r: Result<Inspection, shared::ApiError>| match r {
        Ok(i) => insp.set(i),
        Err(e) => ctx.notice.set(Some(e.message)),
    };
    let prepare = move |_| {
        busy.set(true);
        spawn_local(async move {
            let id = insp.get_untracked().id;
            if let Err(e) = api::save_draft(&insp.get_untracked()).await {
                ctx.notice.set(Some(e.message));
            }
            report(api::prepare_documents(id).await);
            busy.set(false);
        });
    };
    let sign = move |png: String| {
        let Some((role, name)) = pad_for.get_untracked() else { return };
        pad_for.set(None);
        busy.set(true);
        spawn_local(async move {
            let i = insp.get_untracked();
            // What is signed is what is saved: save the form first.
            if let Err(e) = api::save_draft(&i).await {
                ctx.notice.set(Some(e.message));
            }
            report(api::sign_record(i.id, role, &name, &png).await);
            busy.set(false);
        });
    };
    let show = move |kind: DocumentKind| {
        busy.set(true);
        spawn_local(async move {
            match api::document(insp.get_untracked().id, kind).await {
                Ok(f) => {
                    if !f.uncovered.is_empty() {
                        ctx.notice.set(Some(format!("{}：{}", ctx.t("uncovered_chars"), f.uncovered)));
                    }
                    preview.set(pdf_url(&f.pdf_base64).map(|u| (kind, u)));
                }
                Err(e) => ctx.notice.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <div class="card" id="documents-card">
            <h3>{move || ctx.t("documents")}</h3>
            {move || match insp.get().document {
                None => view! {
                    <p class="muted">{move || ctx.t("documents_hint")}</p>
                    <button id="doc-prepare" prop:disabled=move || busy.get() on:click=prepare>{move || ctx.t("prepare_documents")}</button>
                }.into_any(),
                Some(info) => {
                    let i = insp.get();
                    view! {
                        <ul id="doc-numbers">{info.numbers.iter().map(|n| view! {
                            <li data-kind=n.kind.as_str()>{n.kind.title_zh(i.kind())}" "<strong>{n.to_string()}</strong></li>
                        }).collect_view()}</ul>
                        <table class="signers" id="signers"><tbody>
                        {signers(&i).into_iter().map(|(role, name, sig)| {
                            let key = role_key(role);
                            let done = match &sig {
                                Some(Signature::Signed { blob: Some(_), signed_at, signer, .. }) =>
                                    Some(format!("{signer} {}", signed_at.map(shared::clock::beijing).unwrap_or_default())),
                                _ => None,
                            };
                            let witness = role == SignerRole::Witness;
                            let label = role_label(ctx.lang.get_untracked(), role);
                            view! {
                                <tr data-role=key.clone()>
                                    <th>{label.clone()}</th>
                                    <td>{name.clone()}</td>
                                    <td class="sig-state">{match done.clone() {
                                        Some(t) => view! { <span class="ok">"✓ "{t}</span> }.into_any(),
                                        None => view! { <span class="muted">{move || ctx.t("not_signed")}</span> }.into_any(),
                                    }}</td>
                                    <td>
                                        {witness.then(|| view! {
                                            <input class="witness-name" placeholder=move || ctx.t("witness_name")
                                                on:input=move |ev| witness_name.set(event_target_value(&ev))/>
                                        })}
                                        <button class="sign" id=format!("sign-{key}") prop:disabled=move || busy.get()
                                            on:click=move |_| {
                                                let who = if witness { witness_name.get_untracked() } else { name.clone() };
                                                pad_for.set(Some((role, who)));
                                            }>{move || if done.is_some() { ctx.t("sign_again") } else { ctx.t("sign") }}</button>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                        </tbody></table>
                        <div class="row">
                            {documents_for(&i).into_iter().map(|k| view! {
                                <button class="doc-preview" data-kind=k.as_str() prop:disabled=move || busy.get()
                                    on:click=move |_| show(k)>{move || ctx.t("preview")}" "{k.title_zh(i.kind())}</button>
                            }).collect_view()}
                        </div>
                    }.into_any()
                }
            }}
            {move || preview.get().map(|(kind, url)| view! {
                <div class="doc-frame">
                    <p class="row"><button id="doc-open" on:click=move |_| spawn_local(async move {
                            // The system's PDF viewer prints and shares the file kept with the record.
                            if let Err(e) = api::open_document(insp.get_untracked().id, kind).await {
                                ctx.notice.set(Some(e.message));
                            }
                        })>{move || ctx.t("share_print")}</button>
                        <button on:click=move |_| preview.set(None)>{move || ctx.t("close")}</button></p>
                    <iframe id="doc-frame" src=url title="PDF" style="width:100%;height:70vh;border:1px solid #ccc"></iframe>
                </div>
            })}
            {move || pad_for.get().map(|(role, name)| {
                let title = format!("{} · {}", role_label(ctx.lang.get_untracked(), role), name);
                view! { <SignaturePad title=title on_done=Callback::new(sign) on_cancel=Callback::new(move |_| pad_for.set(None))/> }
            })}
        </div>
    }
}

/// A `blob:` URL of the PDF for the preview frame.
fn pdf_url(b64: &str) -> Option<String> {
    let bytes = base64_decode(b64)?;
    let arr = js_sys::Uint8Array::from(bytes.as_slice());
    let parts = js_sys::Array::of1(&arr);
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("application/pdf");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let window = web_sys::window()?;
    let bin = window.atob(s).ok()?;
    Some(bin.chars().map(|c| c as u8).collect())
}
