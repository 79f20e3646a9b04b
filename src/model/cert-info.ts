// What kubeusers reads from a certificate: the model's view, without the parser.
export interface CertInfo {
  serial: string;
  /** SHA-256 of the DER certificate, lower-case hex. */
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  commonName: string;
  /** Every CN of the subject: a certificate with more than one is ambiguous about its user. */
  commonNames: string[];
  groups: string[];
}
