//! The accessibility statement (ウェブアクセシビリティ方針), as Japanese public bodies publish one under JIS X
//! 8341-3:2016 and the ウェブアクセシビリティ導入ガイドブック: the target level, the scope, the exceptions, how
//! the app is tested and with which tools, when, and whom to contact. Reached from every page by the footer link
//! (`#accessibility`).

use yew::prelude::*;

use crate::i18n::{Lang, t};

/// The axe-core version the accessibility tests run (pinned in xtask's setup, `AXE_CORE_VERSION`).
pub const AXE_CORE_VERSION: &str = "4.14.1";
/// The IBM Equal Access engine's version the accessibility tests run beside axe-core (xtask's `ACE_VERSION`).
pub const ACE_VERSION: &str = "4.0.34";
/// The date of the test run the figures below come from.
pub const TEST_DATE_JA: &str = "2026年12月5日";
/// The same date in English.
pub const TEST_DATE_EN: &str = "5 December 2026";

/// Properties of [`Statement`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The display language.
    pub lang: Lang,
}

/// The accessibility statement.
#[function_component(Statement)]
pub fn statement(props: &Props) -> Html {
    let lang = props.lang;
    let date = t(lang, TEST_DATE_JA, TEST_DATE_EN);
    html! {
        <article class="card statement" id="accessibility" aria-labelledby="a11y-h">
            <h2 id="a11y-h">{ t(lang, "ウェブアクセシビリティ方針", "Accessibility statement") }</h2>
            <p>{ t(lang,
                "在外選挙インターネット投票は、障害のある方や高齢の方を含め、海外に住むすべての有権者が支障なく投票できるよう、日本産業規格 JIS X 8341-3:2016「高齢者・障害者等配慮設計指針－情報通信における機器，ソフトウェア及びサービス－第3部：ウェブコンテンツ」に対応します。",
                "Internet voting for Japanese voters abroad is built so that every voter abroad, including voters with disabilities and older voters, can vote without barriers, following the Japanese Industrial Standard JIS X 8341-3:2016 (Web content).") }</p>

            <h3>{ t(lang, "目標とする適合レベル", "Target level") }</h3>
            <p id="a11y-target">{ t(lang,
                "JIS X 8341-3:2016 の適合レベルAAに準拠することを目標とします。あわせて WCAG 2.2 のレベルAAの達成基準にも対応します。",
                "Conformance to JIS X 8341-3:2016 level AA, which is WCAG 2.0 level AA; the success criteria of WCAG 2.2 level AA are met as well.") }</p>
            <p>{ t(lang,
                "現在の対応度: 下記の自動試験とキーボード・拡大の試験にすべて合格しています。スクリーンリーダーを使った人による全達成基準の試験は未実施のため、「準拠」とはまだ表記していません。",
                "Status: every automated, keyboard and zoom test below passes. A manual test of every success criterion with screen readers has not been done yet, so full conformance is not yet claimed.") }</p>

            <h3>{ t(lang, "対象範囲", "Scope") }</h3>
            <p>{ t(lang,
                "この投票サイトの全画面: 日本時間と残り時間を常に表示するステータスバー、選挙の情報、カードの確認とログイン、投票する選挙の一覧、候補者を選ぶ画面（4つの探し方 × 3つの表示方法の12通り）、確認画面、受付（トラッカー）、時間切れの予告と延長、エラーの画面、申出・切替申出の画面、表示の設定、このページ。",
                "Every screen of this voting site: the status bar that always shows Japan time and the time left, the election, the card check and login, the list of your contests, the candidate screen (4 ways to find × 3 displays, 12 layouts), the confirmation, the receipt (tracker), the session warning and extension, the error screen, the application form, the display settings, and this page.") }</p>

            <h3>{ t(lang, "例外事項", "Exceptions") }</h3>
            <ul>
                <li>{ t(lang,
                    "暗証番号を入力する画面は、お使いのパソコンのカードヘルパー（別のソフトウェア）が表示するもので、この方針の対象外です。カードヘルパーの画面もキーボードだけで操作できます。",
                    "The page where you type your PIN is shown by the card helper, separate software on your computer, and is outside this statement; it too works with the keyboard alone.") }</li>
                <li>{ t(lang,
                    "候補者・政党の名前は届出のとおりに表示し、英語の画面でも日本語のまま（よみがな付き）です。",
                    "Names of candidates and parties are shown exactly as filed, in Japanese with their readings, also on the English screens.") }</li>
            </ul>

            <h3>{ t(lang, "試験の方法", "How it is tested") }</h3>
            <ul id="a11y-method">
                <li>{ format!("{}{AXE_CORE_VERSION}{}", t(lang,
                    "自動試験: axe-core ",
                    "Automated: axe-core "), t(lang,
                    "（WCAG 2.0・2.1・2.2 のレベルA・AAの規則）を実際の投票サーバーとカードヘルパーにつないだヘッドレス Chromium で全画面・全12レイアウトについて日本語と英語で実行し、違反 0 件。",
                    " (the WCAG 2.0, 2.1 and 2.2 level A and AA rules) run in headless Chromium against the real voting server and card helper, on every screen and all 12 layouts, in Japanese and English: 0 violations.")) }</li>
                <li id="a11y-method-ibm">{ format!("{}{ACE_VERSION}{}", t(lang,
                    "自動試験: IBM Equal Access accessibility-checker-engine ",
                    "Automated: IBM Equal Access accessibility-checker-engine "), t(lang,
                    "（WCAG 2.2 のレベルA・AA）を axe-core と同じ全画面で実行し、違反 0 件（閉じた折りたたみの中の要素は表示されないため数えず、開いた状態で確認）。",
                    " (WCAG 2.2 level A and AA) on the same screens as axe-core: 0 violations (what is inside a closed disclosure is not shown, so it is checked open).")) }</li>
                <li>{ t(lang,
                    "キーボード操作の試験: 12のレイアウトすべてで、Tab・Shift+Tab・矢印キー・Enter・Space だけを使って投票し、各操作でフォーカスが見えること（4px の黒枠と黄色の輪）を確認。",
                    "Keyboard: a vote in each of the 12 layouts with Tab, Shift+Tab, the arrow keys, Enter and Space only, checking at every step that the focus is visible (a 4 px black outline with a yellow ring).") }</li>
                <li>{ t(lang,
                    "拡大の試験: 幅 320 CSSピクセル（640ピクセルの画面を200%に拡大したのと同じ）で全画面に横スクロールが出ず、内容が切れないことを確認。文字の大きさと高コントラストの設定が再読み込み後も保たれることを確認。",
                    "Zoom: at 320 CSS pixels wide (the same as 200 % zoom of a 640 pixel window), no screen scrolls sideways and no content is cut off. Text size and high contrast settings survive a reload.") }</li>
                <li id="a11y-method-tree">{ t(lang,
                    "スクリーンリーダーに伝わる内容: Chromium のアクセシビリティツリー（スクリーンリーダーが受け取る情報）を16のレイアウトについて日本語と英語で書き出し、各選択肢の名前によみと政党が含まれること、選んだ候補だけが「選択済み」と伝わること、Tab キーの順序が見た目の順序と同じこと、時間切れの予告が一度だけ読み上げられる（残り時間の表示は毎秒読み上げられない）ことを確認。",
                    "What a screen reader is given: Chromium's accessibility tree, written out for the 16 layouts in Japanese and English, checking that each option's name has the reading and the party, that only the chosen entry is announced as checked, that the Tab order follows the visual order, and that the session warning is announced once (the countdown is not read out every second).") }</li>
                <li>{ t(lang,
                    "名前: 各候補者の選択肢の名前（支援技術に伝わる名前）によみがなが含まれること、名前の中に空白を足していないこと、言語（lang 属性）が正しいことを確認。",
                    "Names: each candidate's option carries the reading in its accessible name, no spaces are added inside names, and lang attributes are correct.") }</li>
            </ul>
            <p id="a11y-gallery">{ t(lang,
                "候補者を選ぶ画面のすべての表示（探し方・表示方法・ドラムの始まり・文字の大きさ・コントラスト・言語の組み合わせ）は、練習用の模擬選挙では、カードなしで ",
                "Every layout of the candidate screen (each way to find, display, drum start, text size, contrast and language) can be reviewed without a card in a practice election, in the ") }
                <a href={crate::pages::gallery::GALLERY_HASH} id="gallery-link">{ t(lang, "レビュー用ギャラリー", "reviewer's gallery") }</a>
                { t(lang, " で確認できます（そこからは投票できません）。", " (no ballot can be cast from it).") }</p>
            <p id="a11y-date">{ t(lang, "試験日: ", "Tested on: ") }{ date }{ t(lang, "（Chromium 156、chromedriver、fantoccini による自動試験）", " (automated, with Chromium 156, chromedriver and fantoccini)") }</p>

            <h3>{ t(lang, "お問い合わせ", "Contact") }</h3>
            <p>{ t(lang,
                "使いにくい点や、ご利用いただけない点がありましたら、在外選挙人名簿の登録地の市区町村選挙管理委員会にお知らせください。投票に支障がある場合は、在外公館での投票や郵便等投票もご利用いただけます。",
                "If anything is hard to use or does not work for you, please tell the election committee of the municipality where you are on the overseas voters' roll. If you cannot vote online, you can also vote at an embassy or consulate, or by post.") }</p>
            <p><a href="#main" id="a11y-back">{ t(lang, "投票のページに戻る", "Back to the voting page") }</a></p>
        </article>
    }
}
