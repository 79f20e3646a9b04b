// Who a caller of the admin API is, once authenticated (its own file: auth.ts and the token reviewer
// both need it, and neither may import the other back).
export interface Identity {
  user: string;
  groups: string[];
  via: 'certificate' | 'token';
  serial?: string;
  /** From a TokenReview: the user's uid and extra, passed on to the SubjectAccessReview. */
  uid?: string;
  extra?: Record<string, string[]>;
  /** Set when another kubeusers replica passed the request on (ADR 25): whose identity it has. */
  forwardedBy?: string;
}
