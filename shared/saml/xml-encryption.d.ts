/** The part of xml-encryption (no published types at this version) that the ACS uses. */
declare module 'xml-encryption' {
  interface DecryptOptions {
    key: string;
    disallowDecryptionWithInsecureAlgorithm?: boolean;
    warnInsecureAlgorithm?: boolean;
  }
  interface EncryptOptions {
    rsa_pub: string;
    pem: string;
    encryptionAlgorithm: string;
    keyEncryptionAlgorithm: string;
    keyEncryptionDigest?: string;
    disallowEncryptionWithInsecureAlgorithm?: boolean;
    warnInsecureAlgorithm?: boolean;
  }
  const xmlEncryption: {
    decrypt(
      xml: string,
      options: DecryptOptions,
      callback: (error: Error | null, result?: string) => void,
    ): void;
    encrypt(
      content: string,
      options: EncryptOptions,
      callback: (error: Error | null, result?: string) => void,
    ): void;
  };
  export default xmlEncryption;
}
