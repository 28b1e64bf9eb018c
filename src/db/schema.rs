// Hand-kept for both backends; see diesel.toml.

diesel::table! {
    users (id) {
        id -> BigInt,
        name -> Text,
        email -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        email_verified -> Bool,
        sessions_valid_after -> Nullable<Timestamp>,
    }
}

diesel::table! {
    identities (id) {
        id -> BigInt,
        user_id -> BigInt,
        provider -> Text,
        subject -> Text,
        email -> Nullable<Text>,
        email_verified -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        groups -> Text,
    }
}

diesel::joinable!(identities -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(identities, sessions, users);

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        sealed_private_key -> Text,
        public_jwk -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    provider_metadata (provider) {
        provider -> Text,
        issuer -> Text,
        discovery -> Text,
        jwks -> Text,
        fetched_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Nullable<BigInt>,
        state -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    provider_sessions (provider, sid, user_id) {
        provider -> Text,
        sid -> Text,
        user_id -> BigInt,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    logout_token_uses (provider, jti) {
        provider -> Text,
        jti -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    provider_tokens (identity_id) {
        identity_id -> BigInt,
        key_id -> Text,
        access_token -> Text,
        refresh_token -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        unusable -> Bool,
        refreshing_until -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}
