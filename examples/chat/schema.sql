-- examples/chat: a live-chat / helpdesk schema modelled on what chat vendors store.
-- Real FOREIGN KEYs where a real application has them, plus references without one (Rails-style
-- `guest_ref`, polymorphic `record_type`/`record_id`) that need gdpr.declare_link.
CREATE SCHEMA chat;

-- Operators are employees, not data subjects.
CREATE TABLE chat.operators (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL UNIQUE
);

CREATE TABLE chat.guests (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text,
    email           text UNIQUE,
    phone           text,
    ip              inet,
    metadata        jsonb,                         -- widget data: address from the offline form, browser
    consent_version text,                          -- version of the consent text the guest accepted
    referred_by_id  bigint REFERENCES chat.guests, -- another person: must not be erased with this one
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON chat.guests (referred_by_id);
CREATE INDEX ON chat.guests (created_at);           -- retention finds expired guests by it

CREATE TABLE chat.chat_sessions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guest_id    bigint NOT NULL REFERENCES chat.guests,
    operator_id integer REFERENCES chat.operators,
    channel     text NOT NULL CHECK (channel IN ('web_chat', 'video_showroom', 'chatbot', 'offline_form')),
    visitor_ip  inet,
    user_agent  text,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE INDEX ON chat.chat_sessions (guest_id);

CREATE TABLE chat.messages (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  bigint NOT NULL REFERENCES chat.chat_sessions,
    author_kind text NOT NULL CHECK (author_kind IN ('guest', 'operator', 'bot')),
    body        text NOT NULL,
    sent_at     timestamptz NOT NULL
);
CREATE INDEX ON chat.messages (session_id);
CREATE INDEX ON chat.messages (sent_at);

CREATE TABLE chat.attachments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  bigint NOT NULL REFERENCES chat.messages,
    filename    text NOT NULL,
    bytes       bytea NOT NULL
);
CREATE INDEX ON chat.attachments (message_id);

-- The offline contact form: name, e-mail, phone and the message, stored only with the visitor's consent
-- (gdpr.require_consent in declare.sql adds the trigger and the FOREIGN KEY to gdpr.consent).
CREATE TABLE chat.offline_leads (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guest_id    bigint REFERENCES chat.guests,
    name        text NOT NULL,
    email       text NOT NULL,
    phone       text,
    message     text,
    consent_id  bigint,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON chat.offline_leads (guest_id);
CREATE INDEX ON chat.offline_leads (consent_id);

-- Contact data the chatbot asks for during a chat, after asking for consent first.
CREATE TABLE chat.chatbot_leads (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  bigint NOT NULL REFERENCES chat.chat_sessions,
    email       text NOT NULL,
    phone       text,
    consent_id  bigint,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON chat.chatbot_leads (session_id);
CREATE INDEX ON chat.chatbot_leads (consent_id);

CREATE TABLE chat.tags (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE
);

CREATE TABLE chat.session_tags (
    session_id  bigint REFERENCES chat.chat_sessions,
    tag_id      integer REFERENCES chat.tags,
    PRIMARY KEY (session_id, tag_id)
);

-- Tracking events written by the web widget: no FOREIGN KEY and no primary key.
CREATE TABLE chat.visitor_events (
    guest_ref   bigint NOT NULL,
    url         text NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX ON chat.visitor_events (guest_ref);
CREATE INDEX ON chat.visitor_events (at);

-- Operators' notes about any record (polymorphic, Rails style).
CREATE TABLE chat.notes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_type text NOT NULL,
    record_id   bigint NOT NULL,
    created_by  integer REFERENCES chat.operators,
    body        text NOT NULL
);
CREATE INDEX ON chat.notes (record_type, record_id);

-- The phone system's call log: the caller's number inside a YAML-like payload, written without "+", tied to no
-- guest by any key. gdpr.declare_traces (declare.sql) makes gdpr.locate and anonymize_guest(..., traces => true)
-- search it for a guest's numbers, e-mails and names.
CREATE TABLE chat.call_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    payload     text NOT NULL
);
