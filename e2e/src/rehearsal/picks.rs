//! What each voter picks in each contest (different candidates and parties, a 白票, an HoC PR listed candidate and
//! 国民審査 marks, so that the count has something to tell apart), how the candidate screen is driven to cast it
//! in a selection × display layout, and how it is tallied on the rehearsal's side.

use std::collections::BTreeMap;

use anyhow::{Context, ensure};
use fantoccini::Locator;

use super::SIGN_PASSWORD;
use crate::Browser;

/// What a voter picks in one contest.
#[derive(Clone, Debug)]
pub enum Pick {
    /// A candidate or party entry: its element id, its reading (to find it by search or initial) and the words
    /// the confirmation must show.
    Entry {
        /// `cand-N` or `party-N`.
        id: String,
        /// The reading in kana.
        reading: String,
        /// The confirmation's words.
        words: String,
        /// The tally's line: `candidate:N` or `party:N`.
        line: String,
    },
    /// 白票.
    Blank,
    /// 国民審査: dismiss marks on these judges (0-based).
    Review(Vec<usize>),
}

/// Picks in a contest's candidate screen with a selection × display layout, confirms in words, and casts.
pub(super) async fn vote_in(
    b: &Browser,
    contest: &str,
    layout: Option<(&str, &str)>,
    pick: &Pick,
) -> anyhow::Result<()> {
    b.client.find(Locator::Css(&format!("#contest-{contest} button"))).await?.click().await?;
    match pick {
        Pick::Review(judges) => {
            b.client.wait().for_element(Locator::Css("#review-none")).await?;
            if judges.is_empty() {
                b.client.find(Locator::Css("#review-none")).await?.click().await?;
            }
            for j in judges {
                b.client.find(Locator::Css(&format!("#judge-{j}"))).await?.click().await?;
            }
        }
        Pick::Blank | Pick::Entry { .. } => {
            let (selection, display) = layout.unwrap_or(("list", "scroll"));
            b.client.wait().for_element(Locator::Css(&format!("#mode-{selection}"))).await?.click().await?;
            b.client.find(Locator::Css(&format!("#display-{display}"))).await?.click().await?;
            if let Pick::Entry { id, reading, .. } = pick {
                let family: String = reading.split(' ').next().unwrap_or(reading).chars().take(3).collect();
                let first = reading.chars().next().unwrap_or('あ');
                match selection {
                    "free_word_search" => b.client.find(Locator::Css("#search")).await?.send_keys(&family).await?,
                    "initial_letter_input" => {
                        b.client.find(Locator::Css("#initial")).await?.send_keys(&first.to_string()).await?
                    }
                    "initial_letter_select" => {
                        let row = shared::kana::initial_row(reading).context("a reading without kana")?;
                        let i = shared::kana::ROWS.iter().position(|r| *r == row).unwrap_or(0);
                        b.client.find(Locator::Css(&format!("#row-{i}"))).await?.click().await?;
                    }
                    _ => {}
                }
                let css = format!("#{id}");
                for _ in 0..60 {
                    if b.client.find(Locator::Css(&css)).await.is_ok() {
                        break;
                    }
                    b.client.find(Locator::Css("#drum-next")).await?.click().await?;
                }
                b.client.find(Locator::Css(&css)).await?.click().await?;
                b.screenshot(&format!("rehearsal-{contest}-{selection}-{display}")).await?;
            } else {
                b.client.find(Locator::Css("#blank")).await?.click().await?;
            }
        }
    }
    b.client.find(Locator::Css("#to-confirm")).await?.click().await?;
    let chosen = b.wait_text("#chosen", |t| !t.is_empty()).await?;
    match pick {
        Pick::Entry { words, .. } => ensure!(&chosen == words, "{contest}: the confirmation shows {chosen:?}"),
        Pick::Blank => ensure!(chosen.contains("白票"), "{contest}: the confirmation shows {chosen:?}"),
        Pick::Review(_) => {}
    }
    b.client.find(Locator::Css("#cast")).await?.click().await?;
    b.confirm_on_helper_page(SIGN_PASSWORD).await?;
    b.wait_text(&format!("#contest-{contest} .tracker code"), |t| t.len() == 64).await?;
    Ok(())
}

/// The entry `number` of a contest (a party's when `party`) as a pick, with the words its confirmation shows.
fn entry(contest: &shared::election::Contest, number: u16, party: bool) -> anyhow::Result<Pick> {
    if party {
        let p = contest.parties().iter().find(|p| p.number == number).context("no such party")?;
        return Ok(Pick::Entry {
            id: format!("party-{number}"),
            reading: p.reading.clone(),
            words: p.name.clone(),
            line: format!("party:{number}"),
        });
    }
    let c = contest.selectable_candidates().into_iter().find(|c| c.number == number).context("no such candidate")?;
    Ok(Pick::Entry {
        id: format!("cand-{number}"),
        reading: c.reading.clone(),
        words: format!("{}（{}）", c.name, c.reading),
        line: format!("candidate:{number}"),
    })
}

/// Adds a cast pick to the rehearsal's own tally, in the count's terms.
pub(super) fn record_vote(voted: &mut BTreeMap<(String, String), u64>, contest: &str, pick: &Pick) {
    let mut add = |line: String| *voted.entry((contest.to_string(), line)).or_default() += 1;
    match pick {
        Pick::Entry { line, .. } => add(line.clone()),
        Pick::Blank => add("blank".into()),
        Pick::Review(judges) => {
            for j in judges {
                add(format!("judge:{}", j + 1));
            }
            // Every review ballot counts as a voter of the contest.
            add("ballots".into());
        }
    }
}

/// What voter `i` picks in a contest: different candidates and parties, a 白票, an HoC PR listed candidate and
/// dismiss marks, so that the count has something to tell apart.
pub(super) fn plan(contest: &shared::election::Contest, i: usize) -> anyhow::Result<Pick> {
    use shared::election::Rules;
    Ok(match (&contest.rules, i % 3) {
        (Rules::JudicialReview { .. }, 0) => Pick::Review(vec![1]),
        (Rules::JudicialReview { .. }, 1) => Pick::Review(vec![0, 2]),
        (Rules::JudicialReview { .. }, _) => Pick::Review(vec![]),
        (_, 2) => Pick::Blank,
        (Rules::HorDistrict { .. }, n) => entry(contest, [3, 2][n], false)?,
        (Rules::HocDistrict { .. }, n) => entry(contest, [5, 9][n], false)?,
        (Rules::HorPr { .. }, n) => entry(contest, [2, 3][n], true)?,
        (Rules::HocPr { .. }, 0) => entry(contest, 202, false)?,
        (Rules::HocPr { .. }, _) => entry(contest, 1, true)?,
    })
}
