//! The System Usability Scale (Brooke, 1996, "SUS: a 'quick and dirty' usability scale"): ten statements answered
//! from 1 (strongly disagree) to 5 (strongly agree); the odd ones are worded positively and the even ones
//! negatively, so the score is 2.5 × (Σ odd (answer − 1) + Σ even (5 − answer)), from 0 to 100.

/// Why answers cannot be scored.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SusError {
    /// Not ten answers.
    #[error("SUS_ANSWERS: the scale has 10 statements, {0} answers were given")]
    Count(usize),
    /// An answer outside 1..=5.
    #[error("SUS_ANSWER_RANGE: statement {statement} was answered {answer}, outside 1 to 5")]
    Range {
        /// The statement, from 1.
        statement: usize,
        /// The answer given.
        answer: u8,
    },
}

/// The SUS score (0-100) of one participant's ten answers.
pub fn score(answers: &[u8]) -> Result<f64, SusError> {
    if answers.len() != 10 {
        return Err(SusError::Count(answers.len()));
    }
    let mut sum = 0u32;
    for (i, &a) in answers.iter().enumerate() {
        if !(1..=5).contains(&a) {
            return Err(SusError::Range { statement: i + 1, answer: a });
        }
        sum += u32::from(if i.is_multiple_of(2) { a - 1 } else { 5 - a });
    }
    Ok(f64::from(sum) * 2.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_the_worst_and_a_neutral_participant() {
        assert_eq!(score(&[5, 1, 5, 1, 5, 1, 5, 1, 5, 1]), Ok(100.0));
        assert_eq!(score(&[1, 5, 1, 5, 1, 5, 1, 5, 1, 5]), Ok(0.0));
        assert_eq!(score(&[3; 10]), Ok(50.0));
        // Brooke's worked example: 4,1,4,1,4,2,5,1,4,1 → (3+4+3+4+3+3+4+4+3+4) × 2.5 = 87.5.
        assert_eq!(score(&[4, 1, 4, 1, 4, 2, 5, 1, 4, 1]), Ok(87.5));
        assert_eq!(score(&[3; 9]), Err(SusError::Count(9)));
        assert_eq!(score(&[3, 3, 6, 3, 3, 3, 3, 3, 3, 3]), Err(SusError::Range { statement: 3, answer: 6 }));
    }
}
