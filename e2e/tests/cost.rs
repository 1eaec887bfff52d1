//! The cost of each layout (issue 22 part 4): key presses, clicks, pointer travel and scrolling to choose the
//! first, the middle and the last of N = 10, 50 and 200 entries in each of the 16 layouts, with the keyboard and
//! with the pointer, driven in the real app (`e2e::cost`). Every run ends with the target chosen in the page. The
//! table and the plot are written to `target/a11y/cost.csv` and `cost.svg` for `cargo xtask a11y-report`.
//!
//! It also checks what the figures must show if they measure anything: in a list, the keyboard's cost grows with
//! the target's place, and the free-word search and the initial-letter modes make the last of 200 cheaper than
//! the list does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::cost::{self, Cost, Input};
use e2e::{Browser, LiveElection};

#[tokio::test(flavor = "multi_thread")]
async fn the_cost_of_choosing_the_kth_of_n_in_every_layout() {
    let election = LiveElection::start_toml(&cost::election_toml(), &["cost"]).unwrap();
    let b = Browser::start(None).await.unwrap();
    let mut rows: Vec<Cost> = Vec::new();
    for layout in e2e::gallery_layouts() {
        for n in cost::SIZES {
            for k in cost::positions(n) {
                for input in [Input::Keyboard, Input::Pointer] {
                    rows.push(cost::measure(&b, &election.base_url, layout, n, k, input).await.unwrap());
                }
            }
        }
    }
    let dir = e2e::target_dir().join("a11y");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cost.csv"), cost::csv(&rows)).unwrap();
    std::fs::write(dir.join("cost.svg"), cost::svg(&rows)).unwrap();
    print!("{}", cost::csv(&rows));

    let keys = |layout: &str, n: usize, k: usize| {
        rows.iter().find(|r| r.layout == layout && r.n == n && r.k == k && r.input == Input::Keyboard).unwrap().keys
    };
    for n in cost::SIZES {
        let [first, middle, last] = cost::positions(n);
        let list = "list/one_screen/first";
        assert!(keys(list, n, first) < keys(list, n, middle) && keys(list, n, middle) < keys(list, n, last), "N = {n}");
    }
    for faster in ["free_word_search/one_screen/first", "initial_letter_select/one_screen/first"] {
        assert!(keys(faster, 200, 200) < keys("list/one_screen/first", 200, 200), "{faster}");
    }
    assert_eq!(rows.len(), 16 * 3 * 3 * 2);
    b.finish(&[]).await.unwrap();
}
