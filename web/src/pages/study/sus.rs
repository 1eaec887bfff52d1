//! The System Usability Scale after each layout: ten statements answered from 1 (strongly disagree) to 5
//! (strongly agree).
//!
//! English: J. Brooke, "SUS: a 'quick and dirty' usability scale", in P. W. Jordan et al. (eds.), *Usability
//! Evaluation in Industry*, Taylor & Francis, 1996, pp. 189-194 (free to use, with this acknowledgement).
//! Japanese: the translation published in 樽本徹也『ユーザビリティエンジニアリング（第2版）―ユーザエクスペリエンスの
//! ための調査、設計、評価手法』オーム社, 2014. A study must use the same wording for every participant of a language;
//! the report scores both alike (`research::sus`).
//!
//! Nothing here is sent until every statement has an answer.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::i18n::{Lang, t};

/// The ten statements, (Japanese, English), in the scale's order (odd ones positive, even ones negative).
pub const STATEMENTS: [(&str, &str); 10] = [
    ("このシステムをしばしば使いたいと思う。", "I think that I would like to use this system frequently."),
    ("このシステムは不必要なほど複雑であると感じた。", "I found the system unnecessarily complex."),
    ("このシステムは容易に使いこなすことができると思った。", "I thought the system was easy to use."),
    (
        "このシステムを使うのに技術専門家のサポートを必要とするかもしれない。",
        "I think that I would need the support of a technical person to be able to use this system.",
    ),
    (
        "このシステムにあるさまざまな機能がうまくまとまっていると感じた。",
        "I found the various functions in this system were well integrated.",
    ),
    (
        "このシステムでは、一貫性のないところが多くあったと思った。",
        "I thought there was too much inconsistency in this system.",
    ),
    (
        "たいていのユーザは、このシステムの使用方法について、とても素早く学ぶだろう。",
        "I would imagine that most people would learn to use this system very quickly.",
    ),
    ("このシステムはとても扱いにくいと思った。", "I found the system very cumbersome to use."),
    ("このシステムを使うのに自信があると感じた。", "I felt very confident using the system."),
    (
        "このシステムを使い始める前に多くのことを学ぶ必要があった。",
        "I needed to learn a lot of things before I could get going with this system.",
    ),
];

/// Properties of [`Questionnaire`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The language.
    pub lang: Lang,
    /// The layout just used, as the participant knows it (e.g. "表示 1 / 2").
    pub layout_label: AttrValue,
    /// Called with the ten answers once all are given.
    pub on_done: Callback<Vec<u8>>,
    /// The sending is under way (the button waits).
    #[prop_or_default]
    pub busy: bool,
}

/// The questionnaire: one radio group per statement, and a button that names any statement left unanswered.
#[function_component(Questionnaire)]
pub fn questionnaire(props: &Props) -> Html {
    let lang = props.lang;
    let answers = use_state(|| [None::<u8>; 10]);
    let missing = use_state(Vec::<usize>::new);
    let items = STATEMENTS.iter().enumerate().map(|(i, (ja, en))| {
        let choices = (1..=5u8).map(|v| {
            let id = format!("sus-{}-{v}", i + 1);
            let onchange = {
                let answers = answers.clone();
                Callback::from(move |e: Event| {
                    if e.target_unchecked_into::<HtmlInputElement>().checked() {
                        let mut a = *answers;
                        a[i] = Some(v);
                        answers.set(a);
                    }
                })
            };
            let label = match v {
                1 => format!("1 {}", t(lang, "まったくそう思わない", "strongly disagree")),
                5 => format!("5 {}", t(lang, "とてもそう思う", "strongly agree")),
                _ => v.to_string(),
            };
            html! {
                <label for={id.clone()} class="sus-choice">
                    <input type="radio" id={id} name={format!("sus-{}", i + 1)} value={v.to_string()}
                        checked={answers[i] == Some(v)} {onchange} />
                    { label }
                </label>
            }
        });
        let unanswered = missing.contains(&i);
        html! {
            <fieldset class={classes!("sus-item", unanswered.then_some("missing"))} id={format!("sus-{}", i + 1)}
                aria-describedby={unanswered.then(|| "sus-missing".to_string())}>
                <legend>{ format!("{}. ", i + 1) }{ t(lang, ja, en) }</legend>
                <div class="sus-scale">{ for choices }</div>
            </fieldset>
        }
    });
    let onclick = {
        let (answers, missing, done) = (answers.clone(), missing.clone(), props.on_done.clone());
        Callback::from(move |_: MouseEvent| {
            let gaps: Vec<usize> = (0..10).filter(|&i| answers[i].is_none()).collect();
            if gaps.is_empty() {
                missing.set(Vec::new());
                done.emit(answers.iter().map(|a| a.unwrap_or(3)).collect());
            } else {
                missing.set(gaps);
            }
        })
    };
    let gaps: Vec<String> = missing.iter().map(|i| (i + 1).to_string()).collect();
    html! {
        <section aria-labelledby="sus-h" id="sus">
            <h3 id="sus-h">{ t(lang, "アンケート: ", "Questionnaire: ") }{ props.layout_label.clone() }</h3>
            <p>{ t(lang,
                "いま使った表示について、それぞれの文にどのくらいそう思うかを、1（まったくそう思わない）から5（とてもそう思う）で選んでください。",
                "For the layout you just used, choose how much you agree with each statement, from 1 (strongly disagree) to 5 (strongly agree).") }</p>
            { for items }
            if !gaps.is_empty() {
                <p class="error" role="alert" id="sus-missing">{ t(lang, "まだ答えていない質問があります: ", "Please answer every statement; still open: ") }{ gaps.join(", ") }</p>
            }
            <p><button id="sus-submit" {onclick} disabled={props.busy}>{ t(lang, "回答を送る", "Send my answers") }</button></p>
            <p class="hint">{ t(lang,
                "質問文の出典: J. Brooke (1996) SUS、日本語訳は樽本徹也『ユーザビリティエンジニアリング（第2版）』オーム社 (2014)。",
                "Statements: J. Brooke (1996), SUS; the Japanese translation is from T. Tarumoto, Usability Engineering, 2nd ed., Ohmsha (2014).") }</p>
        </section>
    }
}
