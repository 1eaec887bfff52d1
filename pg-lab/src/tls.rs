//! A lab that demands TLS (the link between a front-end and the voting store crosses sites): a throwaway CA made
//! with rcgen signs the server's certificate (for 127.0.0.1) and a client certificate for the role `lab`; TCP
//! connections without TLS are rejected, and with TLS need that client certificate (`pg_hba.conf`: `hostssl … cert`,
//! then `host … reject`). The lab's own `psql` goes through the socket folder.

use std::path::PathBuf;

use anyhow::Context;

use super::process::append;
use super::{Lab, ROLE};

/// The PEM files a client of a TLS lab needs, in the lab's folder.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The lab CA's certificate (trust it to reach the server).
    pub ca: PathBuf,
    /// A client certificate for the role `lab`, signed by the lab CA.
    pub client_cert: PathBuf,
    /// Its private key.
    pub client_key: PathBuf,
}

impl Lab {
    /// One primary that takes TCP connections only with TLS and a client certificate of its CA.
    pub fn single_tls() -> anyhow::Result<Lab> {
        let mut lab = Lab::single()?;
        lab.enable_tls()?;
        Ok(lab)
    }

    /// The client's files of a TLS lab.
    pub fn tls_files(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    fn enable_tls(&mut self) -> anyhow::Result<()> {
        let ca_key = rcgen::KeyPair::generate()?;
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca.distinguished_name.push(rcgen::DnType::CommonName, "pg-lab throwaway CA");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let server_key = rcgen::KeyPair::generate()?;
        let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])?.signed_by(&server_key, &issuer)?;
        let client_key = rcgen::KeyPair::generate()?;
        let mut client = rcgen::CertificateParams::new(Vec::<String>::new())?;
        client.distinguished_name.push(rcgen::DnType::CommonName, ROLE);
        let client = client.signed_by(&client_key, &issuer)?;
        let data = self.nodes[0].data.clone();
        for (name, pem, mode) in [
            ("server.crt", server.pem(), 0o644),
            ("server.key", server_key.serialize_pem(), 0o600),
            ("root.crt", ca_cert.pem(), 0o644),
        ] {
            let file = data.join(name);
            std::fs::write(&file, pem).with_context(|| format!("cannot write {}", file.display()))?;
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
            if let Some(o) = self.owner {
                std::os::unix::fs::chown(&file, Some(o.uid), Some(o.gid))?;
            }
        }
        append(
            &data.join("postgresql.conf"),
            "# pg-lab: TLS with client certificates\nssl = on\nssl_cert_file = 'server.crt'\n\
             ssl_key_file = 'server.key'\nssl_ca_file = 'root.crt'\n",
        )?;
        let hba = "# pg-lab (pg-lab/src/tls.rs): TLS and a client certificate on TCP; the socket folder trusted\n\
                   local all         all              trust\n\
                   local replication all              trust\n\
                   hostssl all       all 127.0.0.1/32 cert\n\
                   host    all       all 127.0.0.1/32 reject\n";
        std::fs::write(data.join("pg_hba.conf"), hba).context("cannot write pg_hba.conf")?;
        let client_dir = self.dir.path().join("client");
        std::fs::create_dir(&client_dir)?;
        let files = TlsFiles {
            ca: client_dir.join("root.crt"),
            client_cert: client_dir.join("lab.crt"),
            client_key: client_dir.join("lab.key"),
        };
        std::fs::write(&files.ca, ca_cert.pem())?;
        std::fs::write(&files.client_cert, client.pem())?;
        std::fs::write(&files.client_key, client_key.serialize_pem())?;
        std::fs::set_permissions(&files.client_key, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        // TLS settings and pg_hba.conf take effect on a reload (PostgreSQL 10 and later).
        self.psql(0, "SELECT pg_reload_conf()")?;
        super::process::wait_until("the server to turn TLS on", || {
            let on = self.psql(0, "SHOW ssl")?;
            Ok((on != "on").then(|| format!("ssl = {on}")))
        })?;
        self.tls = Some(files);
        Ok(())
    }
}
