//! The confirmation page on the helper's own origin: who asks, what will be signed as the helper computed it,
//! tries left and the PIN field (`GET /confirm/{id}`), and the form (`POST /confirm/{id}`), whose PIN goes straight
//! into the card call; for a check, what the challenged ballot holds.

use std::sync::Arc;

use secrecy::SecretString;
use serde::Deserialize;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::refusals::{Refusal, card_message, internal, op_refusal, refuse};
use super::{Helper, MAX_BODY};
use crate::backend::{CardError, Tries};
use crate::operations::{Operation, Request, State};
use crate::pin::{KeyKind, Pin};
use crate::requests::Shown;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmForm {
    pin: Option<String>,
    action: String,
}

pub(super) fn pages(h: Arc<Helper>) -> BoxedFilter<(Response,)> {
    let with = move || {
        let h = h.clone();
        warp::any().map(move || h.clone())
    };
    // GET /confirm/{id}
    let show = warp::path!("confirm" / String).and(warp::get()).and(with()).and_then(
        |id: String, h: Arc<Helper>| async move {
            let op = h.ops.by_confirm_id(&id).map_err(op_refusal)?;
            let Some(kind) = op.request.kind() else {
                return Ok::<_, Rejection>(page(confirm_page(&op, None, None)));
            };
            let card = h.card.clone();
            let status = tokio::task::spawn_blocking(move || card.status()).await.map_err(internal)?;
            Ok(page(confirm_page(&op, status.as_ref().ok().map(|s| tries_of(s, kind)), None)))
        },
    );
    // POST /confirm/{id}
    let submit = warp::path!("confirm" / String)
        .and(warp::post())
        .and(warp::header::optional::<String>("origin"))
        .and(warp::body::content_length_limit(MAX_BODY))
        .and(warp::body::form())
        .and(with())
        .and_then(|id: String, origin: Option<String>, form: ConfirmForm, h: Arc<Helper>| async move {
            if origin.as_deref() != Some(h.own_origin().as_str()) {
                return Err(refuse(StatusCode::FORBIDDEN, "ORIGIN_NOT_ALLOWED", "Confirm on the helper's own page."));
            }
            let op = h.ops.by_confirm_id(&id).map_err(op_refusal)?;
            if form.action == "cancel" {
                h.ops.set_state(&op.id, State::Cancelled);
                return Ok(page(finished_page("キャンセルしました。", "Cancelled.")));
            }
            let (Some(kind), Some(digest)) = (op.request.kind(), op.request.digest().copied()) else {
                return Err(refuse(StatusCode::CONFLICT, "OPERATION_FINISHED", "A check has nothing to confirm."));
            };
            let typed = SecretString::from(form.pin.unwrap_or_default());
            let pin = match Pin::parse(kind, typed) {
                Ok(pin) => pin,
                Err(_) => {
                    let (ja, en) = kind.pin_name();
                    let msg = (format!("{ja}の形式が正しくありません。"), format!("The {en} does not have that form."));
                    return Ok(page(confirm_page(&op, None, Some(msg))));
                }
            };
            let card = h.card.clone();
            let result = tokio::task::spawn_blocking(move || card.sign(&pin, &digest)).await.map_err(internal)?;
            match result {
                Ok(signed) => {
                    h.ops.set_state(&op.id, State::Done(signed));
                    Ok(page(finished_page(
                        "完了しました。このウィンドウを閉じて、投票画面に戻ってください。",
                        "Done. Close this window and return to the voting page.",
                    )))
                }
                Err(e @ CardError::WrongPin { tries_left, .. }) => {
                    h.ops.set_state(&op.id, State::Pending { last_error: Some(e.code()) });
                    let tries = Tries { left: tries_left, max: kind.max_tries() };
                    Ok(page(confirm_page(&op, Some(tries), Some(card_message(&e)))))
                }
                Err(e) => {
                    h.ops.set_state(&op.id, State::Failed(e.code()));
                    let (ja, en) = card_message(&e);
                    Ok(page(finished_page(&ja, &en)))
                }
            }
        });
    let css = warp::path!("helper.css").and(warp::get()).map(|| {
        let mut r = Response::new(HELPER_CSS.into());
        r.headers_mut().insert("content-type", HeaderValue::from_static("text/css; charset=utf-8"));
        r
    });
    show.or(submit).unify().or(css).unify().map(page_headers).boxed()
}

fn tries_of(s: &crate::backend::CardStatus, kind: KeyKind) -> Tries {
    match kind {
        KeyKind::Auth => s.auth_tries,
        KeyKind::Sign => s.sign_tries,
    }
}

pub(super) async fn html_rejection(err: Rejection) -> Result<Response, Rejection> {
    // Only refusals of the pages become HTML; anything else (not a page) passes on.
    match err.find::<Refusal>() {
        Some(Refusal(status, code, message)) if *code != "BAD_HOST" => {
            let mut r = page(finished_page(&format!("この確認ページは使えません（{code}）。"), message));
            *r.status_mut() = *status;
            Ok(r)
        }
        _ => Err(err),
    }
}

const HELPER_CSS: &str = "body{font-family:\"Noto Sans JP\",system-ui,sans-serif;margin:0;color:#1a1a1a;line-height:1.7}\
header{background:#0017c1;color:#fff;padding:.75rem 1rem}h1{font-size:1.2rem;margin:0}main{max-width:36rem;margin:0 auto;padding:1rem}\
.en{color:#414141}.origin{font-family:monospace;font-size:1.1rem;font-weight:bold;background:#f1f1f4;padding:.25rem .5rem}\
.warn{background:#fff4cc;border-left:6px solid #ac8700;padding:.5rem 1rem}.error{color:#ce0000;font-weight:bold}\
label{display:block;font-weight:bold;margin-top:1rem}input{font-size:1.5rem;min-height:44px;width:100%;max-width:16rem;\
padding:.25rem .5rem;border:2px solid #767676;border-radius:8px}button{min-height:44px;min-width:44px;margin:1rem .5rem 0 0;\
padding:.5rem 1.25rem;border-radius:8px;border:2px solid #0017c1;font:inherit;font-weight:bold;cursor:pointer}\
button[value=confirm]{background:#0017c1;color:#fff}button[value=cancel]{background:#fff;color:#0017c1}\
:focus-visible{outline:4px solid #000;outline-offset:2px;box-shadow:0 0 0 8px #ffd43d}\
dl{margin:.5rem 0;border-left:6px solid #0017c1;padding:.25rem 1rem;background:#f1f1f4}dt{font-weight:bold;margin-top:.5rem}\
dd{margin:0;overflow-wrap:anywhere}dd.main{font-size:1.4rem;font-weight:bold}";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// What the helper computed, as a definition list (`dl`), each value with its id.
fn shown_html(shown: &Shown) -> String {
    let rows: String = shown
        .rows
        .iter()
        .map(|r| {
            let class = if r.main { " class=\"main\"" } else { "" };
            format!(
                "<dt>{} / <span lang=\"en\">{}</span></dt><dd id=\"{}\"{class}>{}</dd>",
                r.ja,
                r.en,
                r.id,
                escape(&r.value)
            )
        })
        .collect();
    format!("<dl id=\"shown\">{rows}</dl>")
}

fn confirm_page(op: &Operation, tries: Option<Tries>, error: Option<(String, String)>) -> String {
    let origin = format!(
        "<p>要求元のサイト / <span lang=\"en\">Requested by</span>:<br><span class=\"origin\" id=\"origin\">{}</span></p>",
        escape(&op.origin)
    );
    let what = |ja: &str, en: &str| {
        format!(
            "<p>内容 / <span lang=\"en\">What</span>:<br><strong id=\"what\">{}</strong><br><span class=\"en\" lang=\"en\">{}</span></p>",
            escape(ja),
            escape(en)
        )
    };
    let (what_html, kind) = match &op.request {
        Request::Authenticate { .. } => (
            what(
                "投票サイトへのログイン（利用者証明用電子証明書）",
                "Log in to the voting site (user-authentication certificate)",
            ),
            KeyKind::Auth,
        ),
        Request::Sign { shown, .. } => (
            format!(
                "{}{}<p class=\"en\">この内容は、カード用ソフトウェアが自分で計算して表示しています（投票サイトの画面の表示ではありません）。<br>\
<span lang=\"en\">The card software computed what is shown here itself; it is not taken from the voting page.</span></p>",
                what(shown.title.0, shown.title.1),
                shown_html(shown)
            ),
            KeyKind::Sign,
        ),
        Request::Check { shown } => {
            return format!(
                "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>暗号化の確認 / Check of an encryption — マイナンバーカード</title><link rel=\"stylesheet\" href=\"/helper.css\"></head><body>\
<header><h1>暗号化の確認<br><span lang=\"en\">Check of an encryption</span></h1></header><main>{origin}{}\
<p id=\"result\" role=\"status\">カード用ソフトウェアが投票サイトから選挙の公開鍵と候補者を読み、暗号化をやり直して確かめました。この暗号文は上の選択を含んでいます。\
確認した暗号文は送られません。投票画面では新しく暗号化されます。<br><span class=\"en\" lang=\"en\">The card software read the election's key and \
candidates from the voting site and encrypted again: this ciphertext holds the choice above. It is never cast; the voting page encrypts your \
choice afresh.</span></p></main></body></html>",
                what(shown.title.0, shown.title.1) + &shown_html(shown)
            );
        }
    };
    let (pin_ja, pin_en) = kind.pin_name();
    let tries_html = match tries {
        Some(t) if t.left == 1 => format!(
            "<p class=\"warn\" id=\"tries\">残り回数: 1回。次に間違えるとロックされます。<br><span class=\"en\" lang=\"en\">One try left ({} in all): one more mistake locks it.</span></p>",
            t.max
        ),
        Some(t) => format!(
            "<p id=\"tries\">残り回数: {}回（最大{}回）<br><span class=\"en\" lang=\"en\">Tries left: {} of {}</span></p>",
            t.left, t.max, t.left, t.max
        ),
        None => String::new(),
    };
    let error_html = error
        .map(|(ja, en)| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"error\">{}<br><span lang=\"en\">{}</span></p>",
                escape(&ja),
                escape(&en)
            )
        })
        .unwrap_or_default();
    let input_mode = match kind {
        KeyKind::Auth => "inputmode=\"numeric\" pattern=\"[0-9]{4}\" maxlength=\"4\"",
        KeyKind::Sign => "maxlength=\"16\" autocapitalize=\"characters\"",
    };
    format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>暗証番号の入力 / Enter your PIN — マイナンバーカード</title><link rel=\"stylesheet\" href=\"/helper.css\"></head><body>\
<header><h1>マイナンバーカード 暗証番号の入力<br><span lang=\"en\">My Number card: enter your PIN</span></h1></header><main>\
{origin}{what_html}\
<p class=\"en\">このページはお使いのパソコンのカード用ソフトウェアが表示しています。要求元が公式の投票サイトであることを確かめてから入力してください。<br>\
<span lang=\"en\">This page is shown by the card software on your computer. Check that the site above is the official voting site before you type.</span></p>\
{tries_html}{error_html}\
<form method=\"post\" action=\"/confirm/{cid}\"><label for=\"pin\">{pin_ja}<br><span class=\"en\" lang=\"en\">{pin_en}</span></label>\
<input id=\"pin\" name=\"pin\" type=\"password\" autocomplete=\"off\" required autofocus {input_mode}>\
<div><button type=\"submit\" name=\"action\" value=\"confirm\">確定 / <span lang=\"en\">Confirm</span></button>\
<button type=\"submit\" name=\"action\" value=\"cancel\" formnovalidate>キャンセル / <span lang=\"en\">Cancel</span></button></div></form>\
</main></body></html>",
        cid = escape(&op.confirm_id),
    )
}

fn finished_page(ja: &str, en: &str) -> String {
    format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>マイナンバーカード / My Number card</title><link rel=\"stylesheet\" href=\"/helper.css\"></head><body>\
<header><h1>マイナンバーカード<br><span lang=\"en\">My Number card</span></h1></header><main>\
<p id=\"result\" role=\"status\">{}<br><span class=\"en\" lang=\"en\">{}</span></p></main></body></html>",
        escape(ja),
        escape(en)
    )
}

fn page(html: String) -> Response {
    let mut r = Response::new(html.into());
    r.headers_mut().insert("content-type", HeaderValue::from_static("text/html; charset=utf-8"));
    r
}

fn page_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // same-origin, not no-referrer: with no-referrer Chrome sends `Origin: null` on the form post, which the
    // origin check must refuse.
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    r
}
