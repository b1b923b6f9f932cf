//! Fuzzes the stored-ciphertext parser and decryption with arbitrary blobs: they must never
//! panic, and nothing but a blob sealed for the same record may open.
//!
//! Run: `cargo fuzz run envelope` (nightly), or on stable:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run envelope`.
#![no_main]

use std::sync::OnceLock;

use latchkey_crypto::{Envelope, Keyring, MasterKey, RecordRef};
use libfuzzer_sys::fuzz_target;

fn keyring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| {
        let master = MasterKey::from_bytes(&[9; 32]);
        let keys = [Keyring::new_data_key(&master, 1), Keyring::new_data_key(&master, 2)];
        Keyring::unwrap_all(&master, &keys).expect("fresh keys unwrap")
    })
}

const RECORD: RecordRef<'static> =
    RecordRef { table: "accounts", workspace_id: "o_fuzz", row_id: "apn_fuzz", field: "credentials" };

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::parse(data) {
        assert!(envelope.nonce.len() == 12);
    }
    // Random bytes must never authenticate.
    assert!(keyring().decrypt(RECORD, data).is_err());
    // A real blob with the fuzz input as plaintext round-trips.
    let sealed = keyring().encrypt(RECORD, data);
    assert_eq!(&*keyring().decrypt(RECORD, &sealed).expect("own blob opens"), data);
});
