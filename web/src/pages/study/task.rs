//! One instructed task: the instruction names the target (derived here from the election's definition), the
//! candidate screen is shown in the layout under study, and the participant confirms a choice or gives up.
//!
//! The time, steps, keystrokes and changes of mind are measured by the same record the voting page keeps
//! (`crate::research::Task`), started when this screen opens; it is never sent as a voting task (no cast here).

use shared::api::Assignment;
use shared::election::{Choice, Contest};
use shared::study::{StudyTask, TrialResult};
use yew::prelude::*;

use crate::components::chooser::Chooser;
use crate::i18n::{Lang, t};
use crate::research;
use crate::selection;

/// Properties of [`TaskScreen`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The language.
    pub lang: Lang,
    /// The task.
    pub task: StudyTask,
    /// Its contest.
    pub contest: Contest,
    /// The layout under study.
    pub layout: Assignment,
    /// Called when the participant confirms or gives up.
    pub on_done: Callback<TrialResult>,
}

/// The entry's name as the candidate screen shows it.
pub fn target_name(contest: &Contest, target: Choice) -> String {
    selection::entries(contest).into_iter().find(|e| e.choice == target).map(|e| e.name).unwrap_or_default()
}

/// One task's screen.
#[function_component(TaskScreen)]
pub fn task_screen(props: &Props) -> Html {
    let lang = props.lang;
    let choice = use_state(|| None::<Choice>);
    let nudge = use_state(|| false);
    {
        let (contest, layout) = (props.contest.clone(), props.layout);
        use_effect_with((), move |_| {
            // A new record for this screen, whatever the one before was for.
            research::discard();
            research::begin(research::Task::new(
                contest.id.as_str(),
                contest.kind(),
                false,
                true,
                layout.selection,
                layout.display,
                layout.drum_start,
                selection::entries(&contest).len(),
                research::now_ms(),
            ));
        });
    }
    let on_pick = {
        let (choice, nudge) = (choice.clone(), nudge.clone());
        Callback::from(move |c: Choice| {
            choice.set(Some(c));
            nudge.set(false);
        })
    };
    let finish = {
        let (task, done) = (props.task.id.clone(), props.on_done.clone());
        move |chosen: Option<Choice>| {
            research::record(|t| t.confirm(research::now_ms()));
            let m = research::current().and_then(|t| t.metrics("study"));
            research::discard();
            done.emit(TrialResult {
                task: task.clone(),
                chosen: chosen.map(shared::study::entry_code),
                time_ms: m.as_ref().map_or(0, |m| m.time_to_confirm_ms),
                steps: m.as_ref().map_or(0, |m| m.steps),
                keystrokes: m.as_ref().map_or(0, |m| m.search_keystrokes),
                changes_of_mind: m.as_ref().map_or(0, |m| m.changes_of_mind),
            });
        }
    };
    let on_confirm = {
        let (choice, nudge, finish) = (choice.clone(), nudge.clone(), finish.clone());
        Callback::from(move |_: MouseEvent| match *choice {
            Some(c) => finish(Some(c)),
            None => nudge.set(true),
        })
    };
    let on_skip = Callback::from(move |_: MouseEvent| finish(None));
    let contest_name = t(lang, &props.contest.name.ja, &props.contest.name.en);
    let target = target_name(&props.contest, props.task.target);
    html! {
        <>
            <p class="notice study-instruction" id="study-instruction">
                { t(lang, "課題: ", "Task: ") }{ contest_name }{ t(lang, "で「", ": choose “") }
                <strong id="study-target">{ target }</strong>
                { t(lang, "」を選び、「これに決める」を押してください。", "”, then press “Confirm this choice”.") }
            </p>
            <section class="card" aria-labelledby="choose-h">
                <h3 id="choose-h">{ contest_name }</h3>
                <fieldset><legend>{ t(lang, "候補者・政党を一つ選んでください", "Choose one") }</legend>
                    <Chooser {lang} contest={props.contest.clone()} practice={false} choice={*choice} {on_pick}
                        assignment={Some(props.layout)} />
                </fieldset>
                if *nudge {
                    <p class="error" role="alert" id="study-nudge">{ t(lang,
                        "まだ選ばれていません。選んでから「これに決める」を押すか、見つからなければ「見つからないので次へ」を押してください。",
                        "Nothing is chosen yet. Choose, then confirm; or press “I cannot find it” to go on.") }</p>
                }
                <p class="actions">
                    <button id="study-confirm" onclick={on_confirm}>{ t(lang, "これに決める", "Confirm this choice") }</button>
                    <button id="study-skip" class="secondary" onclick={on_skip}>{ t(lang, "見つからないので次へ", "I cannot find it") }</button>
                </p>
            </section>
        </>
    }
}
