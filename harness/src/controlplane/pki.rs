//! The control plane's throwaway secrets, made fresh for every run: a CA, the
//! API server's serving certificate, the service-account signing key and the
//! admin token. Nothing here outlives the run folder.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The names a client inside a cluster uses for the API server; the serving
/// certificate carries them with the addresses.
pub const API_NAMES: &[&str] = &[
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "localhost",
];

/// PEM texts, as the API server reads them from files.
#[derive(Clone)]
pub struct Secrets {
    pub ca_cert: String,
    pub serving_cert: String,
    pub serving_key: String,
    /// ECDSA P-256 (PKCS#8): `--service-account-signing-key-file`.
    pub service_account_key: String,
    /// Its public half (SPKI), `--service-account-key-file`: kube-apiserver
    /// reads public keys there, and finds none in a PKCS#8 private key.
    pub service_account_public_key: String,
    /// The bearer token of the admin user (group `system:masters`).
    pub admin_token: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

/// New secrets; the serving certificate is valid for `addresses` and
/// [`API_NAMES`].
pub fn generate(addresses: &[IpAddr]) -> Result<Secrets, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "netpol control-plane CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let names: Vec<String> = addresses
        .iter()
        .map(IpAddr::to_string)
        .chain(API_NAMES.iter().map(|n| (*n).to_owned()))
        .collect();
    let serving_key = KeyPair::generate()?;
    let mut serving = CertificateParams::new(names)?;
    serving
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    serving.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving_cert = serving.signed_by(&serving_key, &issuer)?;

    let service_account = KeyPair::generate()?;
    Ok(Secrets {
        ca_cert: ca_cert.pem(),
        serving_cert: serving_cert.pem(),
        serving_key: serving_key.serialize_pem(),
        service_account_key: service_account.serialize_pem(),
        service_account_public_key: service_account.public_key_pem(),
        admin_token: token()?,
    })
}

/// 32 random bytes, hex.
fn token() -> Result<String, rcgen::Error> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| rcgen::Error::RingUnspecified)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The `--token-auth-file` line of the admin: `token,user,uid,"groups"`.
pub fn token_file(token: &str) -> String {
    format!("{token},netpol-admin,netpol-admin,\"system:masters\"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_pem_and_fresh_each_time() {
        let ip: IpAddr = "10.255.0.254".parse().unwrap();
        let a = generate(&[ip]).unwrap();
        let b = generate(&[ip]).unwrap();
        assert!(a.ca_cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(a.serving_cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(a.serving_key.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(
            a.service_account_key
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        assert_eq!(a.admin_token.len(), 64);
        assert_ne!(a.admin_token, b.admin_token);
        assert_ne!(a.ca_cert, b.ca_cert);
        assert_eq!(format!("{a:?}"), "Secrets { .. }", "no secret in logs");
    }

    #[test]
    fn the_serving_certificate_verifies_against_the_ca_for_the_fabric_address_and_service_names() {
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject};
        let ip: IpAddr = "10.255.0.254".parse().unwrap();
        let secrets = generate(&[ip]).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(secrets.ca_cert.as_bytes()).unwrap())
            .unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let serving = CertificateDer::from_pem_slice(secrets.serving_cert.as_bytes()).unwrap();
        for name in ["10.255.0.254", "kubernetes.default.svc", "kubernetes"] {
            let name = ServerName::try_from(name).unwrap();
            verifier
                .verify_server_cert(&serving, &[], &name, &[], UnixTime::now())
                .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        }
        let other = ServerName::try_from("10.255.0.1").unwrap();
        assert!(
            verifier
                .verify_server_cert(&serving, &[], &other, &[], UnixTime::now())
                .is_err()
        );
    }
}
