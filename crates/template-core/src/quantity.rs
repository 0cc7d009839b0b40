//! Kubernetes resource quantities (`500m`, `512Mi`, `10Gi`, `1.5`), parsed
//! just far enough to compare them: volume sizes must never shrink and a
//! request must not exceed its limit.

/// A quantity in thousandths of its unit (millicores for CPU, millibytes for
/// memory and storage), so CPU and byte quantities share one integer scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Milli(pub u128);

/// Parses a quantity such as `250m`, `2`, `1.5Gi` or `10G`. Returns `None`
/// for anything Kubernetes would reject in our subset (signs, exponents,
/// unknown suffixes, empty input, overflow).
pub fn parse_quantity(text: &str) -> Option<Milli> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let multiplier: u128 = match suffix {
        "m" => 1,
        "" => 1_000,
        "k" => 1_000_000,
        "M" => 1_000_000_000,
        "G" => 1_000_000_000_000,
        "T" => 1_000_000_000_000_000,
        "P" => 1_000_000_000_000_000_000,
        "Ki" => 1_000 << 10,
        "Mi" => 1_000 << 20,
        "Gi" => 1_000 << 30,
        "Ti" => 1_000 << 40,
        "Pi" => 1_000 << 50,
        _ => return None,
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if fraction.contains('.') || fraction.len() > 9 {
        return None;
    }
    let mut digits: u128 = 0;
    for c in whole.chars().chain(fraction.chars()) {
        let d = u128::from(c.to_digit(10)?);
        digits = digits.checked_mul(10)?.checked_add(d)?;
    }
    let scale = 10u128.pow(u32::try_from(fraction.len()).ok()?);
    let scaled = digits.checked_mul(multiplier)?;
    if scaled % scale != 0 {
        // Finer than a thousandth of the unit: Kubernetes rounds up.
        return Some(Milli(scaled / scale + 1));
    }
    Some(Milli(scaled / scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_quantity("250m"), Some(Milli(250)));
        assert_eq!(parse_quantity("2"), Some(Milli(2_000)));
        assert_eq!(parse_quantity("0.5"), Some(Milli(500)));
        assert_eq!(parse_quantity("1Ki"), Some(Milli(1_024_000)));
        assert_eq!(parse_quantity("1.5Gi"), parse_quantity("1536Mi"));
        assert!(parse_quantity("10Gi") > parse_quantity("9Gi"));
        assert!(parse_quantity("1G") < parse_quantity("1Gi"));
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "Gi", "-1Gi", "1e3", "1.2.3", "10GB", "1 Gi", "."] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
        assert_eq!(
            parse_quantity("99999999999999999999999999999999999999Pi"),
            None
        );
    }
}
