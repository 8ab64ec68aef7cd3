//! BEP 44's test vectors, signing round trips and refusals.

use super::*;

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

const PUBLIC: &str = "77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548";

fn vector(salt: &[u8], sig: &str) -> MutableItem {
    MutableItem {
        key: unhex(PUBLIC),
        salt: salt.to_vec(),
        seq: 1,
        sig: unhex(sig),
        value: b"12:Hello World!".to_vec(),
    }
}

#[test]
fn bep44_test_vector_mutable_without_salt() {
    let item = vector(
        b"",
        "305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff\
         1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01",
    );
    assert_eq!(
        signed_buffer(&item.salt, item.seq, &item.value),
        b"3:seqi1e1:v12:Hello World!"
    );
    assert_eq!(item.verify(), Ok(()));
    let target = Item::Mutable(item.clone()).target();
    assert_eq!(
        target,
        NodeId(unhex("4a533d47ec9c7d95b1ad75f576cffc641853b750"))
    );
    let mut forged = item;
    forged.seq = 2;
    assert_eq!(forged.verify(), Err(ItemError::BadSignature));
}

#[test]
fn bep44_test_vector_mutable_with_salt() {
    let item = vector(
        b"foobar",
        "6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17d\
         df9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08",
    );
    assert_eq!(
        signed_buffer(&item.salt, item.seq, &item.value),
        b"4:salt6:foobar3:seqi1e1:v12:Hello World!"
    );
    assert_eq!(item.verify(), Ok(()));
    assert_eq!(
        mutable_target(&item.key, &item.salt),
        NodeId(unhex("411eba73b6f087ca51a3795d9c8c938d365e32c1"))
    );
    let mut forged = item;
    forged.salt = b"foobaz".to_vec();
    assert_eq!(forged.verify(), Err(ItemError::BadSignature));
}

#[test]
fn bep44_test_vector_immutable() {
    let item = Item::Immutable(b"12:Hello World!".to_vec());
    assert_eq!(
        item.target(),
        NodeId(unhex("e5f96f6f38320f0f33959cb4d3d656452117aadb"))
    );
    assert!(item.answers(&ItemQuery::Immutable(item.target())));
    assert!(!item.answers(&ItemQuery::Immutable(NodeId([0; 20]))));
}

#[test]
fn signed_items_verify_and_tampering_is_caught() {
    let key = ItemKey::from_seed([7; 32]);
    let item = key
        .sign(b"s", 5, b"d2:ih20:aaaaaaaaaaaaaaaaaaaae".to_vec())
        .unwrap();
    assert_eq!(item.key, key.public());
    assert_eq!(Item::Mutable(item.clone()).check(), Ok(()));
    let query = ItemQuery::Mutable {
        key: key.public(),
        salt: b"s".to_vec(),
    };
    assert!(Item::Mutable(item.clone()).answers(&query));
    let mut other = item.clone();
    other.value = b"i1e".to_vec();
    assert_eq!(other.verify(), Err(ItemError::BadSignature));
    let mut other = item.clone();
    other.key = ItemKey::from_seed([8; 32]).public();
    assert!(!Item::Mutable(other).answers(&query));
    let mut other = item;
    other.sig[0] ^= 1;
    assert_eq!(other.verify(), Err(ItemError::BadSignature));
    assert!(!format!("{key:?}").contains(&hex(&key.seed())));
    assert_ne!(ItemKey::generate().unwrap().public(), key.public());
}

#[test]
fn values_and_salts_over_the_limits_are_refused() {
    let key = ItemKey::from_seed([1; 32]);
    // "996:" + 996 bytes = 1000 bytes bencoded: the largest allowed.
    let mut max = b"996:".to_vec();
    max.extend([b'x'; 996]);
    assert!(key.sign(b"", 1, max).is_ok());
    let mut over = b"997:".to_vec();
    over.extend([b'x'; 997]);
    assert_eq!(key.sign(b"", 1, over), Err(ItemError::ValueTooLarge(1001)));
    assert_eq!(
        key.sign(&[0; 65], 1, b"i1e".to_vec()),
        Err(ItemError::SaltTooLarge(65))
    );
    assert_eq!(check_value(b"i01e"), Err(ItemError::NotBencode));
    assert_eq!(check_value(b"d1:bi1e1:ai2ee"), Err(ItemError::NotBencode));
    assert_eq!(check_value(b"i1ei2e"), Err(ItemError::NotBencode));
    assert_eq!(ItemError::SeqTooLow.code(), 302);
}
