//! The usability study (issue 22 part 6), `#study`: a participant of the researcher's instructed study does each
//! task in each of their layouts, in the order the verifier gave them, and answers the System Usability Scale after
//! each layout; then the next participant starts.
//!
//! - `task`: one instructed task on the candidate screen in the layout under study;
//! - `sus`: the questionnaire, in Japanese and English, with its sources.
//!
//! It must never be shown for a real election (the verifier refuses the study, and this page says so), cast or
//! seal a ballot (there is no key and no cast here), reach the card helper, or send a person's name, a time of
//! day or which entry was chosen anywhere but to the verifier's study route (which keeps only whether it was the
//! target). Progress is kept in sessionStorage, so that a reload goes on with the same participant.

mod sus;
mod task;

use serde::{Deserialize, Serialize};
use shared::api::{Assignment, ElectionDefinition};
use shared::study::{LayoutResult, Study, StudyPlan, TrialResult};
use yew::prelude::*;

use crate::i18n::{Lang, t};
use shared::api::ApiError;

use crate::services::verifier_api;

pub use sus::STATEMENTS;
pub use task::target_name;

/// The fragment of the study.
pub const STUDY_HASH: &str = "#study";

const PROGRESS_KEY: &str = "study-progress";

/// Where a participant is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Progress {
    study: String,
    plan: StudyPlan,
    /// The layout under way (an index into the plan); the plan's length once every layout is done.
    layout: usize,
    /// The task under way in it; the number of tasks once they are done (the questionnaire is next).
    task: usize,
    trials: Vec<TrialResult>,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

fn saved(study: &Study) -> Option<Progress> {
    let p: Progress = serde_json::from_str(&storage()?.get_item(PROGRESS_KEY).ok()??).ok()?;
    (p.study == study.id && p.layout < p.plan.layouts.len()).then_some(p)
}

fn save(p: Option<&Progress>) {
    if let Some(s) = storage() {
        let _ = match p.and_then(|p| serde_json::to_string(p).ok()) {
            Some(j) => s.set_item(PROGRESS_KEY, &j),
            None => s.remove_item(PROGRESS_KEY),
        };
    }
}

/// Properties of [`StudyPage`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The language.
    pub lang: Lang,
}

/// The page's state that its callbacks change.
#[derive(Clone)]
struct Page {
    progress: UseStateHandle<Option<Progress>>,
    /// The participant whose every layout is recorded, thanked on the first page.
    finished: UseStateHandle<Option<u32>>,
    /// The code of the verifier's last refusal.
    failure: UseStateHandle<Option<String>>,
    busy: UseStateHandle<bool>,
}

impl Page {
    /// Moves the participant on (None: back to the first page), kept in sessionStorage for a reload.
    fn set(&self, p: Option<Progress>) {
        save(p.as_ref());
        self.progress.set(p);
    }

    /// After a layout's answers are recorded: its next layout, or the first page for the next participant.
    fn next_layout(&self, p: Progress) {
        self.failure.set(None);
        if p.layout + 1 < p.plan.layouts.len() {
            self.set(Some(Progress { layout: p.layout + 1, task: 0, trials: Vec::new(), ..p }));
        } else {
            self.finished.set(Some(p.plan.participant));
            self.set(None);
        }
    }
}

/// The study: its first page, a participant's tasks and questionnaires, and the end.
#[function_component(StudyPage)]
pub fn study_page(props: &Props) -> Html {
    let lang = props.lang;
    let loaded = use_state(|| None::<Result<(Study, ElectionDefinition), ApiError>>);
    let progress = use_state(|| None::<Progress>);
    let finished = use_state(|| None::<u32>);
    let failure = use_state(|| None::<String>);
    let busy = use_state(|| false);
    {
        let (loaded, progress) = (loaded.clone(), progress.clone());
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let both = async { Ok((verifier_api::study().await?, verifier_api::definition().await?)) };
                let got: Result<(Study, ElectionDefinition), ApiError> = both.await;
                if let Ok((study, _)) = &got {
                    progress.set(saved(study));
                }
                loaded.set(Some(got));
            });
        });
    }
    {
        // Each new screen (task, questionnaire, end) starts at its heading, so that a screen reader reads it.
        let at = ((*progress).as_ref().map(|p| (p.layout, p.task)), *finished);
        use_effect_with(at, |_| crate::focus_by_id("study-h"));
    }
    let (study, def) = match &*loaded {
        None => {
            return frame(
                lang,
                html! { <p role="status">{ t(lang, "調査を読み込んでいます…", "Loading the study…") }</p> },
            );
        }
        Some(Err(e)) => {
            let code = if e.code == "NOT_PRACTICE" { "STUDY_NOT_PRACTICE" } else { e.code.as_str() };
            return frame(lang, refusal(lang, code));
        }
        Some(Ok(both)) => both,
    };
    let page = Page { progress, finished, failure, busy };
    let title = t(lang, &study.title.ja, &study.title.en);
    let error = (*page.failure).as_ref().map(|code| {
        let (ja, en) = crate::refusals::failure_text(code);
        html! { <p class="error" role="alert" id="study-error">{ t(lang, ja, en) }{ format!(" ({code})") }</p> }
    });

    let Some(p) = (*page.progress).clone() else {
        // The first page, or the end of the last participant.
        return frame(lang, first_page(lang, study, title, error, &page));
    };

    let layouts = p.plan.layouts.len();
    let layout = p.plan.layouts[p.layout];
    let layout_label = format!("{}{} / {layouts}", t(lang, "表示 ", "Layout "), p.layout + 1);
    let header = html! {
        <>
            <h2 id="study-h" tabindex="-1">{ title }{ " — " }{ layout_label.clone() }
                if p.task < study.tasks.len() {
                    { format!("{}{} / {}", t(lang, "・課題 ", ", task "), p.task + 1, study.tasks.len()) }
                }
            </h2>
            <p class="hint" id="study-participant">{ t(lang, "参加者番号: ", "Participant: ") }{ p.plan.participant }</p>
        </>
    };
    if let Some(task) = study.tasks.get(p.task) {
        let Some(contest) = def.election.contest(&task.contest).cloned() else {
            return frame(lang, refusal(lang, "NO_STUDY"));
        };
        let on_done = {
            let (p, page) = (p.clone(), page.clone());
            Callback::from(move |trial: TrialResult| {
                let mut next = p.clone();
                next.trials.push(trial);
                next.task += 1;
                page.set(Some(next));
            })
        };
        let key = format!("{}-{}", p.layout, p.task);
        return frame(
            lang,
            html! {
                <>
                    { header }
                    <task::TaskScreen {key} {lang} task={task.clone()} {contest} {layout} {on_done} />
                </>
            },
        );
    }
    let on_done = send_answers(&page, &p, &study.id, layout);
    frame(
        lang,
        html! {
            <>
                { header }
                { error }
                <sus::Questionnaire key={p.layout} {lang} layout_label={layout_label} {on_done} busy={*page.busy} />
            </>
        },
    )
}

/// The study's first page, also shown between participants: what the study is and what it records, and the button
/// that asks the verifier for the next participant's plan.
fn first_page(lang: Lang, study: &Study, title: &str, error: Option<Html>, page: &Page) -> Html {
    let start = {
        let (study_id, page) = (study.id.clone(), page.clone());
        Callback::from(move |_: MouseEvent| {
            let (study_id, page) = (study_id.clone(), page.clone());
            page.busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                match verifier_api::study_participant().await {
                    Ok(plan) => {
                        page.failure.set(None);
                        page.finished.set(None);
                        page.set(Some(Progress { study: study_id, plan, layout: 0, task: 0, trials: Vec::new() }));
                    }
                    Err(e) => page.failure.set(Some(e.code)),
                }
                page.busy.set(false);
            });
        })
    };
    let layouts = study.layouts.len();
    let per = if study.design == shared::study::StudyDesign::Within { layouts } else { 1 };
    let (finished, busy) = (*page.finished, *page.busy);
    html! {
        <>
            <h2 id="study-h" tabindex="-1">{ title }</h2>
            if let Some(n) = finished {
                <p class="notice" role="status" id="study-thanks">{ t(lang, "ご協力ありがとうございました。参加者 ", "Thank you. Participant ") }{ n }{ t(lang, " の記録を終えました。", " is recorded.") }</p>
            }
            <p id="study-about">{ t(lang,
                "練習用の模擬選挙の画面で、指示された候補者・政党を選んでいただく調査です。投票はされません。",
                "In this study you choose the candidates and parties you are told to, on the screens of a practice election. No ballot is cast.") }</p>
            <p>{ format!("{}{per}{}{}{}", t(lang, "表示の種類 ", ""), t(lang, " つについて、それぞれ課題が ", " layout(s), each with "), study.tasks.len(),
                t(lang, " つあります。表示ごとに、終わったら10の質問にお答えください。", " task(s); after each layout, ten short questions.")) }</p>
            <p>{ t(lang,
                "記録するのは、指示どおりに選べたか、かかった時間、操作の回数と質問への回答だけです。お名前やカードなど、あなたを特定する情報は記録しません。",
                "Only whether you chose as told, the time, the number of steps and your answers are recorded: nothing that identifies you, no name and no card.") }</p>
            { error }
            <p><button id="study-start" onclick={start} disabled={busy}>{
                if finished.is_some() { t(lang, "次の参加者をはじめる", "Start the next participant") } else { t(lang, "はじめる", "Start") }
            }</button></p>
        </>
    }
}

/// Sends a layout's trials and questionnaire answers to the verifier, then moves on to the next layout.
fn send_answers(page: &Page, p: &Progress, study_id: &str, layout: Assignment) -> Callback<Vec<u8>> {
    let (p, page, study_id) = (p.clone(), page.clone(), study_id.to_string());
    Callback::from(move |answers: Vec<u8>| {
        let result = LayoutResult {
            study: study_id.clone(),
            participant: p.plan.participant,
            layout,
            trials: p.trials.clone(),
            sus: answers,
        };
        let (p, page) = (p.clone(), page.clone());
        page.busy.set(true);
        wasm_bindgen_futures::spawn_local(async move {
            match verifier_api::study_results(&result).await {
                // Sent, or sent before (a reload after sending): the next layout either way.
                Ok(_) => page.next_layout(p),
                Err(e) if e.code == "STUDY_DUPLICATE" => page.next_layout(p),
                Err(e) => page.failure.set(Some(e.code)),
            }
            page.busy.set(false);
        });
    })
}

fn frame(lang: Lang, body: Html) -> Html {
    html! {
        <article class="card" id="study" aria-labelledby="study-h" lang={lang.code()}>
            { body }
        </article>
    }
}

fn refusal(lang: Lang, code: &str) -> Html {
    let (ja, en) = crate::refusals::failure_text(code);
    html! {
        <>
            <h2 id="study-h" tabindex="-1">{ t(lang, "使いやすさの調査", "Usability study") }</h2>
            <p class="error" role="alert" id="study-refusal">{ t(lang, ja, en) }{ format!(" ({code})") }</p>
            <p><a href="#main" class="nav-link">{ t(lang, "投票のページに戻る", "Back to the voting page") }</a></p>
        </>
    }
}
