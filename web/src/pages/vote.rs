//! Voting (R-VOTE-5..9): log in with the card through the helper, see one's contests, choose in each (list
//! mode), confirm the choice in words with the election key's fingerprint, encrypt in the browser, sign with the
//! card through the helper (the password is asked per contest, R-VOTE-6), cast, and keep the receipt's tracker.
//! The plaintext choice never leaves this page; only the ciphertext, the signature and the certificate do.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use shared::api::{BallotView, CastReceipt, CastRequest, LoginRequest};
use shared::crypto::{ElectionPublicKey, encrypt_ballot, envelope_digest};
use shared::election::{Choice, Contest, Rules};
use yew::prelude::*;

use crate::i18n::{Lang, t};
use crate::refusals::failure_text;
use crate::services::card_helper;
use crate::services::verifier_api::{self, ApiFailure};

/// Properties of [`Vote`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The display language.
    pub lang: Lang,
}

#[derive(Clone, PartialEq)]
enum Step {
    Idle,
    Working(&'static str, &'static str),
    Ballot,
    Choose(usize, Option<Choice>),
    Confirm(usize, Choice),
    Failed(ApiFailure),
}

fn name<'a>(lang: Lang, ja: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

/// The voting flow.
#[function_component(Vote)]
pub fn vote(props: &Props) -> Html {
    let lang = props.lang;
    let step = use_state(|| Step::Idle);
    let ballot = use_state(|| None::<BallotView>);
    let receipts = use_state(Vec::<CastReceipt>::new);
    let practice = use_state(|| false);
    {
        let practice = practice.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(e) = verifier_api::current_election().await {
                    practice.set(e.practice);
                }
            });
        });
    }

    // The card check (R-SEC-3): is the helper there, is a card in the reader, how many tries are left?
    let card = use_state(|| None::<Result<shared::helper_api::HelperStatus, ApiFailure>>);
    {
        let card = card.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let status = async {
                    let helper = verifier_api::client_config().await?.card_helper_origin;
                    card_helper::status(&helper).await
                }
                .await;
                card.set(Some(status));
            });
        });
    }
    let card_html = match &*card {
        None => html! {},
        Some(Err(e)) => {
            let (ja, en) = failure_text(&e.code);
            html! { <p class="notice" id="card-check">{ name(lang, ja, en) }</p> }
        }
        Some(Ok(s)) if !s.card_present => html! {
            <p class="notice" id="card-check">{ t(lang, "カードが読み取れません。カードリーダーにマイナンバーカードを置いてください。", "No card is read. Place your My Number card on the reader.") }</p>
        },
        Some(Ok(s)) if s.auth_tries.left == 0 => {
            let (ja, en) = failure_text("PIN_LOCKED");
            html! { <p class="error" id="card-check" role="alert">{ name(lang, ja, en) }</p> }
        }
        Some(Ok(s)) => html! {
            <p id="card-check">
                { t(lang, "カードを確認しました。暗証番号の残り回数: ", "Card found. PIN tries left: ") }
                { format!("{} / {}", s.auth_tries.left, s.auth_tries.max) }
                if s.auth_tries.left == 1 {
                    <strong class="error">{ t(lang, "（あと1回間違えるとロックされます）", " (one more mistake locks it)") }</strong>
                }
            </p>
        },
    };
    let login = {
        let (step, ballot) = (step.clone(), ballot.clone());
        Callback::from(move |_: MouseEvent| {
            let (step, ballot) = (step.clone(), ballot.clone());
            step.set(Step::Working(
                "カードヘルパーの画面で暗証番号（4桁）を入力してください。",
                "Enter your 4-digit PIN on the card helper's window.",
            ));
            wasm_bindgen_futures::spawn_local(async move {
                let result: Result<BallotView, ApiFailure> = async {
                    verifier_api::login(&card_login().await?).await?;
                    verifier_api::ballot().await
                }
                .await;
                match result {
                    Ok(b) => {
                        ballot.set(Some(b));
                        step.set(Step::Ballot);
                    }
                    Err(e) => step.set(Step::Failed(e)),
                }
            });
        })
    };

    // The session countdown (R-VOTE-4): always shown once logged in, with the extension (WCAG 2.2.1); at the end
    // the page says so, never silently.
    let clock = crate::hooks::use_server_clock::use_server_clock();
    let extending = use_state(|| false);
    let extend_error = use_state(|| None::<(String, String)>);
    let on_extend = {
        let (ballot, extending, extend_error) = (ballot.clone(), extending.clone(), extend_error.clone());
        Callback::from(move |()| {
            let (ballot, extending, extend_error) = (ballot.clone(), extending.clone(), extend_error.clone());
            extending.set(true);
            extend_error.set(None);
            wasm_bindgen_futures::spawn_local(async move {
                // The choice in progress stays on screen: only the session's times change.
                let result = async { verifier_api::extend_session(&card_login().await?).await }.await;
                extending.set(false);
                match (result, (*ballot).clone()) {
                    (Ok(r), Some(b)) => ballot.set(Some(BallotView {
                        session_expires_at: r.expires_at,
                        session_extensions_left: r.extensions_left,
                        ..b
                    })),
                    (Ok(_), None) => {}
                    (Err(e), _) => {
                        let (ja, en) = failure_text(&e.code);
                        extend_error.set(Some((ja.to_string(), en.to_string())));
                    }
                }
            });
        })
    };
    let session_bar = match (&*ballot, &clock, &*step) {
        (Some(b), crate::hooks::use_server_clock::ServerClock::Now(now), s)
            if !matches!(s, Step::Idle | Step::Failed(_)) =>
        {
            if *now >= b.session_expires_at {
                let (step, ballot) = (step.clone(), ballot.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    ballot.set(None);
                    step.set(Step::Failed(ApiFailure { code: "SESSION_EXPIRED".into(), message: String::new() }));
                });
            }
            html! {
                <crate::components::session_bar::SessionBar {lang} now={*now} expires_at={b.session_expires_at}
                    extensions_left={b.session_extensions_left} extending={*extending}
                    extend_error={(*extend_error).clone()} {on_extend} />
            }
        }
        _ => html! {},
    };

    let body = match (&*step, &*ballot) {
        (Step::Idle, _) => html! {
            <section class="card" aria-labelledby="vote-h">
                <h2 id="vote-h">{ t(lang, "投票する", "Vote") }</h2>
                <p>{ t(lang, "マイナンバーカードをカードリーダーに置き、カードヘルパーを起動してからログインしてください。暗証番号はカードヘルパーの画面で入力します（この画面では入力しません）。",
                    "Place your My Number card on the reader, start the card helper, then log in. You type your PIN in the card helper's window, never on this page.") }</p>
                { card_html }
                <button id="login" onclick={login}>{ t(lang, "マイナンバーカードでログイン", "Log in with your My Number card") }</button>
            </section>
        },
        (Step::Working(ja, en), _) => html! {
            <section class="card" role="status" aria-live="polite"><p id="working">{ name(lang, ja, en) }</p></section>
        },
        (Step::Failed(e), _) => {
            let (ja, en) = failure_text(&e.code);
            let retry = {
                let step = step.clone();
                Callback::from(move |_: MouseEvent| step.set(Step::Idle))
            };
            html! {
                <section class="card error" role="alert">
                    <p id="failure">{ name(lang, ja, en) }</p>
                    <p class="en">{ format!("({})", e.code) }</p>
                    <button onclick={retry}>{ t(lang, "最初に戻る", "Start again") }</button>
                </section>
            }
        }
        (Step::Ballot, Some(b)) => contests_html(lang, b, &receipts, &step),
        (Step::Choose(i, choice), Some(b)) => choose_html(lang, &b.contests[*i].contest, *practice, *i, *choice, &step),
        (Step::Confirm(i, choice), Some(b)) => confirm_html(lang, b, *i, *choice, &step, &ballot, &receipts),
        _ => html! {},
    };
    html! { <div id="vote">{ session_bar }{ body }</div> }
}

/// Logs in with the card through the helper's own page (the PIN is typed there, never here): a fresh challenge,
/// signed with the authentication certificate. Used for the login and for each session extension.
async fn card_login() -> Result<LoginRequest, ApiFailure> {
    let helper = verifier_api::client_config().await?.card_helper_origin;
    let nonce = verifier_api::challenge().await?.nonce;
    let started = card_helper::authenticate(&helper, &nonce).await?;
    let (sig, cert) = card_helper::confirm_and_wait(&helper, &started).await?;
    Ok(LoginRequest { purpose: None, nonce, certificate: B64.encode(cert), signature: B64.encode(sig) })
}

fn contests_html(
    lang: Lang,
    b: &BallotView,
    receipts: &UseStateHandle<Vec<CastReceipt>>,
    step: &UseStateHandle<Step>,
) -> Html {
    html! {
        <section class="card" aria-labelledby="contests-h">
            <h2 id="contests-h">{ t(lang, "あなたの投票", "Your ballots") }</h2>
            <ul class="contests">
            { for b.contests.iter().enumerate().map(|(i, cv)| {
                let open = { let step = step.clone(); Callback::from(move |_: MouseEvent| step.set(Step::Choose(i, None))) };
                let receipt = receipts.iter().find(|r| r.contest == cv.contest.id.as_str());
                html! {
                    <li id={format!("contest-{}", cv.contest.id)}>
                        <strong>{ name(lang, &cv.contest.name.ja, &cv.contest.name.en) }</strong>{ " " }
                        if cv.voted {
                            <span class="status open">{ t(lang, "投票済み", "Voted") }</span>
                            if let Some(r) = receipt {
                                <p class="tracker">{ t(lang, "受付番号（トラッカー）: ", "Receipt tracker: ") }<code>{ &r.tracker }</code></p>
                            }
                        } else {
                            <button onclick={open}>{ t(lang, "選ぶ", "Choose") }</button>
                        }
                    </li>
                }
            }) }
            </ul>
            <p class="en">{ t(lang, "投票の終了後、公開される一覧でトラッカーが含まれていることを確認できます。", "After the close you can check that your tracker is in the published list.") }</p>
        </section>
    }
}

fn choose_html(
    lang: Lang,
    contest: &Contest,
    practice: bool,
    i: usize,
    choice: Option<Choice>,
    step: &UseStateHandle<Step>,
) -> Html {
    let pick = |c: Choice| {
        let step = step.clone();
        Callback::from(move |_: MouseEvent| step.set(Step::Choose(i, Some(c))))
    };
    let body = if let Rules::JudicialReview { judges } = &contest.rules {
        let marks = match choice {
            Some(Choice::Review(m)) => m,
            _ => 0,
        };
        let mut items: Vec<Html> = judges
            .iter()
            .enumerate()
            .map(|(j, judge)| {
                let on = {
                    let step = step.clone();
                    Callback::from(move |_: MouseEvent| step.set(Step::Choose(i, Some(Choice::Review(marks ^ (1 << j))))))
                };
                html! {
                    <li><label class="option" for={format!("judge-{j}")}>
                        <input type="checkbox" id={format!("judge-{j}")} checked={marks >> j & 1 == 1} onclick={on}
                            aria-label={format!("{}{}（{}）", t(lang, "×（罷免を可とする）: ", "× (dismiss): "), judge.name, judge.reading)} />
                        { t(lang, "×（罷免を可とする）: ", "× (dismiss): ") }<ruby lang="ja">{ &judge.name }<rt>{ &judge.reading }</rt></ruby>
                    </label></li>
                }
            })
            .collect();
        items.push(html! {
            <li><label class="option" for="review-none">
                <input type="radio" name="review" id="review-none" checked={choice == Some(Choice::Review(0))} onclick={pick(Choice::Review(0))} />
                { t(lang, "だれにも×をつけない", "Mark no judge") }
            </label></li>
        });
        items.push(html! {
            <li><label class="option" for="blank">
                <input type="radio" name="review" id="blank" checked={choice == Some(Choice::Blank)} onclick={pick(Choice::Blank)} />
                <strong>{ t(lang, "白票（投票しない）", "Blank ballot (白票)") }</strong>
            </label></li>
        });
        html! { <ul class="options">{ for items }</ul> }
    } else {
        let on_pick = {
            let step = step.clone();
            Callback::from(move |c: Choice| step.set(Step::Choose(i, Some(c))))
        };
        html! { <crate::components::research_chooser::ResearchChooser {lang} contest={contest.clone()} {practice} {choice} {on_pick} /> }
    };
    let next = choice.map(|c| {
        let (step, id) = (step.clone(), contest.id.to_string());
        Callback::from(move |_: MouseEvent| {
            crate::research::to_confirm(&id);
            step.set(Step::Confirm(i, c))
        })
    });
    let back = {
        let step = step.clone();
        Callback::from(move |_: MouseEvent| step.set(Step::Ballot))
    };
    html! {
        <section class="card" aria-labelledby="choose-h">
            <h2 id="choose-h">{ name(lang, &contest.name.ja, &contest.name.en) }</h2>
            <fieldset><legend>{ t(lang, "投票する候補者・政党を一つ選んでください", "Choose one") }</legend>{ body }</fieldset>
            <button id="to-confirm" disabled={next.is_none()} onclick={next.unwrap_or_default()}>{ t(lang, "確認へ進む", "Continue to confirm") }</button>
            { " " }<button class="secondary" onclick={back}>{ t(lang, "戻る", "Back") }</button>
        </section>
    }
}

fn confirm_html(
    lang: Lang,
    b: &BallotView,
    i: usize,
    choice: Choice,
    step: &UseStateHandle<Step>,
    ballot: &UseStateHandle<Option<BallotView>>,
    receipts: &UseStateHandle<Vec<CastReceipt>>,
) -> Html {
    let contest = b.contests[i].contest.clone();
    let change = {
        let (step, id) = (step.clone(), contest.id.to_string());
        Callback::from(move |()| {
            crate::research::back_from_confirm(&id);
            step.set(Step::Choose(i, Some(choice)))
        })
    };
    let cast = {
        let (step, ballot, receipts, b) = (step.clone(), ballot.clone(), receipts.clone(), b.clone());
        Callback::from(move |()| {
            let (step, ballot, receipts, b, contest) =
                (step.clone(), ballot.clone(), receipts.clone(), b.clone(), contest.clone());
            step.set(Step::Working(
                "カードヘルパーの画面で署名用の暗証番号（6〜16文字）を入力してください。",
                "Enter your signing password (6 to 16 characters) on the card helper's window.",
            ));
            wasm_bindgen_futures::spawn_local(async move {
                let result: Result<(CastReceipt, BallotView), ApiFailure> = async {
                    let bad = |m: String| ApiFailure { code: "ENCRYPTION".into(), message: m };
                    let spki = B64.decode(&b.public_key).map_err(|e| bad(e.to_string()))?;
                    let key = ElectionPublicKey::from_spki_der(&spki).map_err(|e| bad(e.to_string()))?;
                    let plain = shared::ballot::encode_for(&b.election_id, &contest, &choice)
                        .map_err(|e| bad(e.to_string()))?;
                    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
                    let ct = encrypt_ballot(&mut rng, &key, &b.election_id, contest.id.as_str(), &plain)
                        .map_err(|e| bad(e.to_string()))?;
                    let digest = envelope_digest(&b.election_id, contest.id.as_str(), &ct);
                    let helper = verifier_api::client_config().await?.card_helper_origin;
                    let what_ja = format!("投票（{}）", contest.name.ja);
                    let what_en = format!("Ballot ({})", contest.name.en);
                    let started = card_helper::sign(&helper, &digest, what_ja, what_en).await?;
                    let (sig, cert) = card_helper::confirm_and_wait(&helper, &started).await?;
                    let body = CastRequest {
                        contest: contest.id.to_string(),
                        ciphertext: B64.encode(&ct),
                        signature: B64.encode(sig),
                        certificate: B64.encode(cert),
                    };
                    let receipt = verifier_api::cast(&body).await?;
                    Ok((receipt, verifier_api::ballot().await?))
                }
                .await;
                match result {
                    Ok((receipt, fresh)) => {
                        crate::research::cast_done(&receipt.contest);
                        let mut all = (*receipts).clone();
                        all.push(receipt);
                        receipts.set(all);
                        ballot.set(Some(fresh));
                        step.set(Step::Ballot);
                    }
                    Err(e) => step.set(Step::Failed(e)),
                }
            });
        })
    };
    html! {
        <crate::components::confirmation::Confirmation {lang} contest={b.contests[i].contest.clone()} {choice}
            fingerprint={b.key_fingerprint.clone()} on_cast={cast} on_change={change} />
    }
}
