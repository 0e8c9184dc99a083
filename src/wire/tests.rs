//! The wire module's tests: reading, setting, and splices flat and nested.

use super::*;

#[test]
fn set_varint_replaces_every_record_and_keeps_the_rest() {
    let mut m = Vec::new();
    put_len(&mut m, 2, b"hosts");
    put_varint(&mut m, 5, 1);
    put_len(&mut m, 9, b"md");
    put_varint(&mut m, 5, 3);
    let set = set_varint(&m, 5, 2).unwrap().unwrap();
    let fields: Vec<(u32, Option<u64>)> = fields(&set)
        .map(|f| f.map(|f| (f.number, f.varint())).unwrap())
        .collect();
    assert_eq!(fields, [(2, None), (9, None), (5, Some(2))]);
    assert_eq!(set_varint(&set, 5, 2).unwrap(), None, "already set");
    assert!(
        set_varint(&m, 5, 3).unwrap().is_some(),
        "split records are merged"
    );
}

fn message() -> Vec<u8> {
    let mut m = Vec::new();
    put_len(&mut m, 1, b"name");
    put_varint(&mut m, 2, 300);
    put_len(&mut m, 3, b"first");
    m.extend_from_slice(&[0x25, 1, 2, 3, 4]); // field 4, fixed32
    put_len(&mut m, 3, b"second");
    m
}

#[test]
fn walks_every_record_in_order() {
    let m = message();
    let numbers: Vec<u32> = fields(&m)
        .map(|f| f.map(|f| f.number))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(numbers, [1, 2, 3, 4, 3]);
    let total: usize = fields(&m).map(|f| f.unwrap().record.len()).sum();
    assert_eq!(total, m.len());
}

#[test]
fn reads_varints_and_payloads() {
    let m = message();
    let f: Vec<Field<'_>> = fields(&m).collect::<Result<_, _>>().unwrap();
    assert_eq!(f[1].varint(), Some(300));
    assert_eq!(f[4].payload, b"second");
    assert_eq!(f[3].payload, [1, 2, 3, 4]);
}

#[test]
fn truncated_message_is_an_error_not_a_panic() {
    let m = message();
    for cut in 1..m.len() {
        let _ = fields(&m[..cut]).count();
    }
    let err = fields(&m[..m.len() - 1]).find_map(Result::err).unwrap();
    assert!(
        matches!(err, WireError::Malformed { offset: 21, .. }),
        "{err}"
    );
}

#[test]
fn rewrite_replaces_only_the_chosen_occurrence() {
    let m = message();
    let out = rewrite_len_fields::<WireError>(&m, |n, i, _| {
        Ok((n == 3 && i == 1).then(|| b"2nd".to_vec()))
    })
    .unwrap()
    .unwrap();
    let mut expected = m[..m.len() - 8].to_vec();
    put_len(&mut expected, 3, b"2nd");
    assert_eq!(out, expected);
}

#[test]
fn rewrite_without_edits_returns_none() {
    let m = message();
    assert_eq!(
        rewrite_len_fields::<WireError>(&m, |_, _, _| Ok(None)).unwrap(),
        None
    );
}

/// A nested splice writes the message built by hand, and knows its length before it is
/// written, including when a payload's length prefix grows a byte.
#[test]
fn nested_splice_writes_the_edited_message_at_its_exact_size() {
    let mut inner = message();
    put_len(&mut inner, 5, &[b'x'; 120]);
    let mut outer = Vec::new();
    put_len(&mut outer, 1, b"outer");
    put_len(&mut outer, 2, &inner);
    put_varint(&mut outer, 3, 7);
    put_len(&mut outer, 2, &inner);
    let long = vec![b'y'; 200]; // 120 -> 200 bytes: a two-byte length prefix
    let edit_inner = |n: u32, i: usize| (n == 5 || (n == 3 && i == 0)).then(|| long.clone());

    let mut edited_inner = Vec::new();
    put_len(&mut edited_inner, 1, b"name");
    put_varint(&mut edited_inner, 2, 300);
    put_len(&mut edited_inner, 3, &long);
    edited_inner.extend_from_slice(&[0x25, 1, 2, 3, 4]);
    put_len(&mut edited_inner, 3, b"second");
    put_len(&mut edited_inner, 5, &long);
    put_len(&mut edited_inner, 6, b"appended");
    let mut expected = Vec::new();
    put_len(&mut expected, 1, b"outer");
    put_len(&mut expected, 2, &inner);
    put_varint(&mut expected, 3, 7);
    put_len(&mut expected, 2, &edited_inner);

    let splice = splice_len_fields::<WireError>(&outer, |n, i, payload| {
        if n != 2 || i != 1 {
            return Ok(None);
        }
        let mut nested = splice_len_fields::<WireError>(payload, |n, i, _| {
            Ok(edit_inner(n, i).map(Payload::from))
        })?
        .unwrap();
        nested.append(6, b"appended");
        Ok(Some(nested.into()))
    })
    .unwrap()
    .unwrap();
    assert_eq!(splice.len(), expected.len());
    let written = splice.to_vec();
    assert_eq!(written, expected);
    assert_eq!(written.capacity(), expected.len());
}

#[test]
fn splice_without_edits_is_none_and_append_alone_is_a_change() {
    let m = message();
    assert!(
        splice_len_fields::<WireError>(&m, |_, _, _| Ok(None))
            .unwrap()
            .is_none()
    );
    let mut splice = Splice::new(&m);
    assert!(splice.is_unchanged());
    splice.append(7, b"tail");
    let mut expected = m.clone();
    put_len(&mut expected, 7, b"tail");
    assert!(!splice.is_unchanged());
    assert_eq!(splice.len(), expected.len());
    assert_eq!(splice.to_vec(), expected);
}

/// Positions handed in from outside (the index's) are checked, never trusted.
#[test]
fn record_positions_that_do_not_fit_are_errors() {
    let m = message(); // records at 0..6, 6..9, 9..16, 16..21, 21..29
    let splice = Splice::new(&m);
    assert_eq!(splice.record_at(9..16).unwrap().payload, b"first");
    for wrong in [9..15, 9..17, 6..9, 25..40] {
        assert!(splice.record_at(wrong.clone()).is_err(), "{wrong:?}");
    }
    let mut splice = Splice::new(&m);
    splice.replace(21..29, 3, b"2nd".to_vec().into()).unwrap();
    assert!(splice.replace(9..16, 3, b"1st".to_vec().into()).is_err());
    assert!(splice.replace(29..31, 3, b"3rd".to_vec().into()).is_err());
    let mut expected = m[..21].to_vec();
    put_len(&mut expected, 3, b"2nd");
    assert_eq!(splice.to_vec(), expected);
}

#[test]
fn single_len_refuses_split_records() {
    let m = message();
    assert_eq!(single_len(&m, 1).unwrap(), Some(&b"name"[..]));
    assert_eq!(single_len(&m, 9).unwrap(), None);
    assert_eq!(
        single_len(&m, 3),
        Err(WireError::Split {
            number: 3,
            count: 2
        })
    );
}
