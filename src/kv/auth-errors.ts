import { KvError } from "./errors.js";

/** An auth change the store refused at apply; nothing changed. Codes are the HTTP API's. */
export class AuthStateError extends KvError {}

export class UserNotFoundError extends AuthStateError {
  constructor(name: string) {
    super("USER_NOT_FOUND", `user ${JSON.stringify(name)} not found`);
  }
}

export class RoleNotFoundError extends AuthStateError {
  constructor(name: string) {
    super("ROLE_NOT_FOUND", `role ${JSON.stringify(name)} not found`);
  }
}

export class UserExistsError extends AuthStateError {
  constructor(name: string) {
    super("USER_ALREADY_EXISTS", `user ${JSON.stringify(name)} already exists`);
  }
}

export class RoleExistsError extends AuthStateError {
  constructor(name: string) {
    super("ROLE_ALREADY_EXISTS", `role ${JSON.stringify(name)} already exists`);
  }
}

/** `enable` without a user "root" holding the role "root": nobody could manage auth after. */
export class RootUserMissingError extends AuthStateError {
  constructor() {
    super("ROOT_USER_MISSING", 'auth enable needs a user "root" holding the role "root"');
  }
}

/** A revoke of a role the user lacks, or of a permission the role lacks. */
export class NotGrantedError extends AuthStateError {
  constructor(message: string) {
    super("NOT_GRANTED", message);
  }
}

/** A change that would lock every administrator out while auth is enabled, or touch the root role. */
export class AuthManagementError extends AuthStateError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
  }
}
