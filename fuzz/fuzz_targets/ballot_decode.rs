//! Ballot bytes as the counting tool gets them after decryption: `shared::ballot::decode`, then
//! `check_for` every contest of the demo election. Never panics; a ballot that checks re-encodes to its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::ballot;

fuzz_target!(|data: &[u8]| {
    let election = jp_ivote_fuzz::demo_election();
    let Ok(plain) = ballot::decode(data) else { return };
    for contest in &election.contests {
        if let Ok(choice) = plain.check_for(election, contest) {
            let again = ballot::encode(election, contest, &choice);
            assert_eq!(again.as_ref().map(|b| &b[..]), Ok(data), "a checked ballot must encode to the same bytes");
        }
    }
});
