"""Composition root: the only place that builds concrete objects from Settings."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.domain.door_codes import SubmissionLimits
from bot.domain.elderly import SubsidyRule
from bot.domain.errors import AssistantError
from bot.domain.expiry import parse_kinds
from bot.handlers.router import MessageRouter, RateLimits
from bot.local_state import LocalStateError, os_error_message, prepare_directory
from bot.ports import ChatGateway, Clock, PetitionClassifier, SystemClock
from bot.rag.embeddings import embed_array, make_embeddings
from bot.rag.generation import GroundedAnswerWriter, make_chat_model
from bot.rag.index import KnowledgeIndex, index_problem
from bot.rag.ingestion import KnowledgeIngestor
from bot.rag.prompts import PromptLibrary
from bot.rag.retriever import FusionWeights, HybridRetriever, QuestionVectors
from bot.scheduling import JobScheduler, default_holder
from bot.services.accounts import LoginPolicy, StaffAccounts
from bot.services.answering import AnsweringService, ChoiceRule
from bot.services.assistant import ResidentAssistant
from bot.services.audit import StaffAudit
from bot.services.calibration import DecisionCalibrator, background_questions
from bot.services.conversation import ConversationMemory
from bot.services.dashboard import Dashboard
from bot.services.deadlines import DeadlineWatch
from bot.services.door_codes import DoorCodeDesk
from bot.services.elderly import ElderlyRegister
from bot.services.escalation import EscalationService
from bot.services.expiry import ExpiryRegisterDesk
from bot.services.faq_book import FaqBook
from bot.services.knowledge_admin import KnowledgeMaintenance
from bot.services.notices import RESUME_NOTICE_RUNS, SEND_NOTICE, NoticeDesk
from bot.services.open311 import GeoReport, Open311Keys
from bot.services.petition_export import PetitionExport
from bot.services.petition_fields import PetitionFieldExtractor
from bot.services.petition_recognition import PetitionRecogniser, load_categories
from bot.services.petitions import KeywordTriggers, PetitionDesk
from bot.services.photos import PhotoAlbum
from bot.services.routing import PetitionRouting
from bot.services.safety import ChitChat, JsonlFlaggedMessageLog, SensitiveWords
from bot.services.scope import RegionScope
from bot.services.sending import OutboxSender, SendingPolicy
from bot.services.welcome import MemberWelcome
from bot.storage.api_keys import SqlApiKeys
from bot.storage.channel import SqlGroupAccounts, SqlGroupConfigs, SqlInbox, SqlOutbox
from bot.storage.door_codes import SqlDoorCodes
from bot.storage.elderly import SqlElderlyRegister
from bot.storage.engine import make_engine, session_factory, upgrade
from bot.storage.expiry import SqlExpiryRegister
from bot.storage.notices import SqlNotices
from bot.storage.petition_reports import SqlPetitionReports
from bot.storage.petitions import SqlPetitions
from bot.storage.photos import SqlPhotoStore
from bot.storage.routing import SqlRoutes
from bot.storage.staff import SqlAuditLog, SqlStaffAccounts
from bot.storage.turns import SqlTurnLog
from bot.storage.unanswered import SqlUnansweredQuestions
from bot.tables import read_table

# The scheduler's job table: name → what the job calls. A new job is one more row here (and, when it runs on a
# standing schedule, one line in Application.start_jobs); jobs call services, never a channel.
REMIND_OVERDUE_QUESTIONS = "remind_overdue_questions"
CLOSE_UNANSWERED_PETITIONS = "close_unanswered_petitions"
REMIND_PETITION_DEADLINES = "remind_petition_deadlines"
REMIND_EXPIRING_ITEMS = "remind_expiring_items"
REMIND_ELDERLY_SUBSIDY = "remind_elderly_subsidy"
# How often resolved petitions are checked for the resident's silence (closing is due days after resolving).
PETITION_CLOSE_CHECK = timedelta(hours=1)
# How often petition deadlines are checked (reminders are sent once a day per case; escalation once).
PETITION_DEADLINE_CHECK = timedelta(hours=1)
# How often runs of notices a crash interrupted are looked for (each process also looks once as it starts).
NOTICE_RESUME_CHECK = timedelta(minutes=1)


def scheduled_jobs(
    settings: Settings,
    escalation: EscalationService,
    petitions: PetitionDesk,
    deadlines: DeadlineWatch,
    expiry: ExpiryRegisterDesk,
    elderly: ElderlyRegister,
    notices: Callable[[], NoticeDesk],
) -> Mapping[str, Callable[..., object]]:
    """Every job the scheduler can run, by name. notices gives the notice desk when a job runs: the desk schedules
    through the scheduler this table is built for, so it is built after it."""
    remind_every = timedelta(minutes=settings.unanswered_remind_minutes)
    return {
        REMIND_OVERDUE_QUESTIONS: partial(escalation.renotify_overdue, older_than=remind_every),
        CLOSE_UNANSWERED_PETITIONS: petitions.close_unanswered,
        REMIND_PETITION_DEADLINES: deadlines.run,
        REMIND_EXPIRING_ITEMS: expiry.run,
        REMIND_ELDERLY_SUBSIDY: elderly.run,
        SEND_NOTICE: lambda notice_id: notices().run_scheduled(notice_id),
        RESUME_NOTICE_RUNS: lambda: notices().resume_unfinished(),
    }


class ServiceUnavailableError(AssistantError):
    """A service the assistant depends on cannot be reached; the message says which, in Chinese."""


@dataclass(frozen=True, slots=True)
class Application:
    """The whole assistant, built once from Settings by `build_application`: every service and repository.

    The command line, the console, the chat runtime and the scheduler all take this object; a chat channel adds
    only its gateway (`sender`)."""

    settings: Settings
    clock: Clock
    sessions: sessionmaker[Session]
    embeddings: Embeddings
    index: KnowledgeIndex
    ingestor: KnowledgeIngestor
    retriever: HybridRetriever
    answering: AnsweringService
    assistant: ResidentAssistant
    knowledge: KnowledgeMaintenance
    groups: SqlGroupConfigs
    group_accounts: SqlGroupAccounts
    inbox: SqlInbox
    outbox: SqlOutbox
    escalation: EscalationService
    petitions: PetitionDesk
    routing: PetitionRouting
    deadlines: DeadlineWatch
    recogniser: PetitionRecogniser
    api_keys: Open311Keys
    open311: GeoReport
    photos: PhotoAlbum
    door_codes: DoorCodeDesk
    expiry: ExpiryRegisterDesk
    elderly: ElderlyRegister
    faq_book: FaqBook
    audit: StaffAudit
    accounts: StaffAccounts
    dashboard: Dashboard
    petition_export: PetitionExport
    welcome: MemberWelcome
    router: MessageRouter
    scheduler: JobScheduler
    notices: NoticeDesk

    def start_jobs(self) -> None:
        """Start this process's scheduler (it runs jobs only while it holds the deployment's lease) and register the
        standing schedules; every mode that serves (terminal, console only, WeChat) calls this."""
        self.scheduler.start()
        remind_every = timedelta(minutes=self.settings.unanswered_remind_minutes)
        self.scheduler.every(REMIND_OVERDUE_QUESTIONS, remind_every, job_id=REMIND_OVERDUE_QUESTIONS)
        self.scheduler.every(CLOSE_UNANSWERED_PETITIONS, PETITION_CLOSE_CHECK, job_id=CLOSE_UNANSWERED_PETITIONS)
        self.scheduler.every(REMIND_PETITION_DEADLINES, PETITION_DEADLINE_CHECK, job_id=REMIND_PETITION_DEADLINES)
        local = timezone(timedelta(hours=self.settings.utc_offset_hours))
        daily = f"0 {self.settings.expiry_remind_hour} * * *"
        self.scheduler.cron(REMIND_EXPIRING_ITEMS, daily, job_id=REMIND_EXPIRING_ITEMS, timezone=local)
        elderly_daily = f"0 {self.settings.elderly_remind_hour} * * *"
        self.scheduler.cron(REMIND_ELDERLY_SUBSIDY, elderly_daily, job_id=REMIND_ELDERLY_SUBSIDY, timezone=local)
        self.scheduler.every(RESUME_NOTICE_RUNS, NOTICE_RESUME_CHECK, job_id=RESUME_NOTICE_RUNS)
        self.notices.resume_unfinished()

    def stop_jobs(self) -> None:
        """Stop running jobs and hand the lease to another process at once."""
        self.scheduler.shutdown()

    def prepare(self) -> None:
        """Load the models and indexes answering and petition recognition need, so the first resident does not
        wait for them."""
        self.assistant.prepare()
        if self.settings.petition_implicit:
            self.recogniser.prepare()

    def sender(self, gateway: ChatGateway, *, channel: str, policy: SendingPolicy | None = None) -> OutboxSender:
        """The outbox drained through one chat account's gateway, only the given channel's messages (required: a
        WeChat account must never claim a WeCom robot's, nor the other way round), spaced as the settings say (or as
        policy says)."""
        settings = self.settings
        policy = policy or SendingPolicy(
            interval_s=settings.send_interval_s,
            jitter_s=settings.send_jitter_s,
            max_attempts=settings.send_max_attempts,
        )
        return OutboxSender(self.outbox, gateway, self.clock, policy, channel=channel)


def chroma_client(settings: Settings, persist_dir: Path | None = None) -> Any:
    """An embedded (persistent) Chroma client, or an HTTP client for a Chroma server; telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from chromadb.errors import ChromaError

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.vector_store == "server" and persist_dir is None:
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        except ValueError as exc:
            raise ServiceUnavailableError(
                f"连不上 Chroma 向量库服务 {settings.chroma_host}:{settings.chroma_port}，请确认它已启动"
            ) from exc
    path = persist_dir or settings.chroma_dir
    prepare_directory(path, "向量索引目录")
    try:
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except ChromaError as exc:  # a damaged store, a full disk: said in Chinese, with what to do
        raise index_problem(path, exc) from exc


def index_location(settings: Settings, persist_dir: Path | None = None) -> Path | str:
    """Where the index lives, as staff are told: the embedded store's directory, or the server's host:port."""
    if settings.vector_store == "server" and persist_dir is None:
        return f"{settings.chroma_host}:{settings.chroma_port}"
    return persist_dir or settings.chroma_dir


def discard_index(settings: Settings) -> None:
    """Throw the knowledge index away, damaged or not, so the next ingest builds it anew from the files.

    The embedded store's directory is removed whole (a damaged store cannot be opened to delete from); on a
    Chroma server the pointer and every generation are dropped.
    """
    if settings.vector_store == "server":
        KnowledgeIndex(chroma_client(settings), settings.collection_name, location=index_location(settings)).discard()
        return
    path = settings.chroma_dir
    if not path.is_dir():
        return  # nothing to discard (a file in its place is reported when the index is opened)
    try:
        shutil.rmtree(path)
    except OSError as exc:
        raise LocalStateError(os_error_message(path, exc, "向量索引目录")) from exc


def fusion_weights(settings: Settings) -> FusionWeights:
    """The retrieval fusion settings."""
    return FusionWeights(
        dense=settings.dense_weight,
        second_chunk=settings.second_chunk_weight,
        overview_bonus=settings.overview_bonus,
        sibling_lexical=settings.sibling_lexical_weight,
        long_question_chars=settings.long_question_chars,
        dense_candidates=settings.dense_candidates,
    )


def petition_recogniser(
    settings: Settings,
    embeddings: Embeddings,
    categories_file: Path | None = None,
    *,
    questions: QuestionVectors | None = None,
) -> PetitionRecogniser:
    """The petition recogniser over the staff's categories, reading a message's vector as retrieval embeds it (from
    questions, shared with the retriever, so one embedding serves both)."""
    questions = questions or QuestionVectors(embeddings, fusion_weights(settings).max_query_parts)
    categories = load_categories(categories_file or settings.petition_categories_path)
    chit_chat = ChitChat.from_directory(settings.knowledge_dir)
    return PetitionRecogniser(embeddings, categories, message_vector=questions.of, chit_chat=chit_chat)


def answer_writer(settings: Settings) -> GroundedAnswerWriter | None:
    """The LLM answer writer when a chat endpoint is configured, else None (extractive answers)."""
    if not settings.llm_enabled:
        return None
    model = chat_model(settings, timeout_s=settings.llm_timeout_s)
    return GroundedAnswerWriter(model, PromptLibrary(settings.prompts_dir), timeout_s=settings.llm_timeout_s)


def petition_field_extractor(settings: Settings, categories: Sequence[str]) -> PetitionFieldExtractor | None:
    """The LLM reader of a petition's fields when a chat endpoint is configured, else None (the rules' draft)."""
    if not settings.llm_enabled:
        return None
    model = chat_model(settings, timeout_s=settings.petition_llm_timeout_s)
    return PetitionFieldExtractor(
        model, PromptLibrary(settings.prompts_dir), categories, timeout_s=settings.petition_llm_timeout_s
    )


def chat_model(settings: Settings, *, timeout_s: float) -> BaseChatModel:
    """The configured OpenAI-compatible chat model, its requests bounded by timeout_s."""
    return make_chat_model(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key.get_secret_value() or "not-needed",
        timeout_s=timeout_s,
        max_tokens=settings.llm_max_tokens,
    )


def open_database(url: str) -> sessionmaker[Session]:
    """Sessions on the database at url, its schema brought to the newest migration."""
    engine = make_engine(url)
    upgrade(engine)
    return session_factory(engine)


def build_application(
    settings: Settings,
    *,
    embeddings: Embeddings | None = None,
    state_dir: Path | None = None,
    clock: Clock | None = None,
    classifier: PetitionClassifier | None = None,
) -> Application:
    """Build the whole assistant once from Settings; state_dir gives a private embedded index and database
    (evaluation, benchmark); classifier tells petitions from other messages (by default the petition recogniser over
    the staff's category file; only the explicit triggers when BOT_PETITION_IMPLICIT is off).
    Nothing is loaded or ingested here: `prepare()` loads the models."""
    prepare_directory(settings.data_dir)  # before anything is loaded: a fault here is told at once, in Chinese
    clock = clock or SystemClock()
    embeddings = embeddings or make_embeddings(settings)
    persist_dir = state_dir / "chroma" if state_dir else None
    index = KnowledgeIndex(
        chroma_client(settings, persist_dir),
        settings.collection_name,
        location=index_location(settings, persist_dir),
    )
    engine = make_engine(f"sqlite:///{state_dir / 'assistant.db'}" if state_dir else settings.database)
    upgrade(engine)
    sessions = session_factory(engine)
    weights = fusion_weights(settings)
    # One embedding a message: the petition recogniser reads the vector retrieval computes for the same text.
    questions = QuestionVectors(embeddings, weights.max_query_parts)
    retriever = HybridRetriever(
        index,
        embeddings,
        embedding_id=settings.embedding_id,
        weights=weights,
        cache_dir=settings.data_dir / "cache",
        questions=questions,
    )
    # Ingestion calibrates the answer decision on the knowledge base it has just indexed.
    calibrator = DecisionCalibrator(retriever, background_questions())
    ingestor = KnowledgeIngestor(
        index,
        embeddings,
        embedding_id=settings.embedding_id,
        chunk_max_chars=settings.chunk_max_chars,
        calibrator=calibrator if settings.calibrate_at_ingest else None,
    )
    answering = AnsweringService(
        retriever,
        threshold=settings.answer_threshold,
        scope=RegionScope(settings.home_region_names),
        writer=answer_writer(settings),
        margin_weight=settings.margin_weight,
        agreement_bonus=settings.agreement_bonus,
        followup_threshold=settings.followup_threshold,
        choice_rule=ChoiceRule(floor=settings.choice_floor, gap=settings.choice_gap),
        top_k=settings.top_k,
        max_reply_chars=settings.max_reply_chars,
    )
    turns = SqlTurnLog(sessions)
    sensitive_words = SensitiveWords.from_directory(settings.knowledge_dir)
    assistant = ResidentAssistant(
        answering,
        ConversationMemory(clock, ttl=timedelta(minutes=settings.followup_minutes)),
        sensitive_words,
        ChitChat.from_directory(settings.knowledge_dir),
        JsonlFlaggedMessageLog(settings.data_dir / "flagged_messages.jsonl"),
        turns,
        clock,
        max_question_chars=settings.max_question_chars,
    )
    knowledge = KnowledgeMaintenance(
        settings.knowledge_dir,
        ingestor,
        assistant,
        clock,
        upload_max_bytes=int(settings.upload_max_mb * 1024 * 1024),
        reindex_timeout_s=settings.reindex_timeout_s,
    )
    groups = SqlGroupConfigs(
        sessions,
        enabled_by_default=settings.groups_enabled_by_default,
        keywords=settings.split_list(settings.keyword_prefixes),
        default_community=settings.default_community,
    )
    outbox = SqlOutbox(sessions)
    audit = StaffAudit(SqlAuditLog(sessions), clock)
    escalation = EscalationService(
        SqlUnansweredQuestions(sessions),
        outbox,
        clock,
        audit=audit,
        embed=lambda texts: embed_array(embeddings, texts),
        embedding_id=settings.embedding_id,
        staff_group_id=settings.staff_group_id,
        community_of=groups.community_of,
        group_name_of=groups.name_of,
    )
    faq_book = FaqBook(settings.knowledge_dir, clock, knowledge.editing)
    recogniser = petition_recogniser(settings, embeddings, questions=questions)
    categories = recogniser.categories
    utc_offset = timedelta(hours=settings.utc_offset_hours)
    routing = PetitionRouting(
        SqlRoutes(sessions), categories, clock, audit=audit, utc_offset=utc_offset, group_name_of=groups.name_of
    )
    petition_store = SqlPetitions(sessions, default_community=settings.default_community)
    petitions = PetitionDesk(
        petition_store,
        classifier or (recogniser if settings.petition_implicit else KeywordTriggers()),
        clock,
        audit=audit,
        confirm_within=timedelta(minutes=settings.petition_confirm_minutes),
        close_after=timedelta(days=settings.petition_close_after_days),
        private_categories=settings.split_list(settings.petition_private_categories),
        utc_offset=utc_offset,
        sensitive=sensitive_words,
        staff_group_id=settings.staff_group_id,
        routing=routing,
        fields=petition_field_extractor(settings, recogniser.category_names),
    )
    deadlines = DeadlineWatch(
        petition_store,
        petitions,
        routing,
        outbox,
        clock,
        due_soon=timedelta(hours=settings.petition_due_soon_hours),
        escalate_after=timedelta(hours=settings.petition_escalate_after_hours),
        staff_group_id=settings.staff_group_id,
        utc_offset=utc_offset,
    )
    photos = PhotoAlbum(
        SqlPhotoStore(sessions, (state_dir or settings.data_dir) / "photos"),
        clock,
        max_bytes=int(settings.photo_max_mb * 1024 * 1024),
        per_case=settings.photos_per_case,
    )
    api_keys = Open311Keys(SqlApiKeys(sessions), audit, clock, posts_per_minute=settings.open311_posts_per_minute)
    open311 = GeoReport(
        petitions,
        api_keys,
        groups,
        recogniser.categories,
        clock,
        default_community=settings.default_community,
        utc_offset=timedelta(hours=settings.utc_offset_hours),
        private_categories=settings.split_list(settings.petition_private_categories),
        photos=photos,
        public_url=settings.public_address,
    )
    door_codes = DoorCodeDesk(
        SqlDoorCodes(sessions),
        petitions,
        photos,
        clock,
        audit=audit,
        categorise=recogniser.categorise,
        sensitive=sensitive_words,
        limits=SubmissionLimits(
            per_device_hour=settings.door_code_per_device_hour,
            per_address_hour=settings.door_code_per_address_hour,
            per_code_day=settings.door_code_per_code_day,
        ),
        public_url=settings.public_address,
    )
    expiry = ExpiryRegisterDesk(
        SqlExpiryRegister(sessions),
        outbox,
        clock,
        audit=audit,
        kinds=parse_kinds(settings.expiry_kinds),
        repeat_days=settings.expiry_overdue_repeat_days,
        staff_group_id=settings.staff_group_id,
        utc_offset=utc_offset,
    )
    elderly = ElderlyRegister(
        SqlElderlyRegister(sessions),
        clock,
        audit=audit,
        rule=SubsidyRule(age=settings.elderly_subsidy_age, days_before=settings.elderly_remind_days_before),
        read_table=read_table,
        staff_group_id=settings.staff_group_id,
        utc_offset=utc_offset,
    )
    scheduler = JobScheduler(
        engine,
        scheduled_jobs(settings, escalation, petitions, deadlines, expiry, elderly, lambda: notices),
        holder=default_holder(),
        lease_s=settings.scheduler_lease_s,
        misfire_grace_s=settings.scheduler_misfire_grace_s,
    )
    notices = NoticeDesk(
        SqlNotices(sessions),
        groups,
        outbox,
        scheduler=scheduler,
        clock=clock,
        audit=audit,
        zone=timezone(utc_offset),
        misfire_grace=timedelta(seconds=settings.scheduler_misfire_grace_s),
        confirm_within=timedelta(minutes=settings.notice_confirm_minutes),
    )
    router = MessageRouter(
        assistant,
        groups,
        outbox,
        clock,
        bot_names=settings.split_list(settings.bot_names),
        other_bot_ids=settings.split_list(settings.other_bot_ids),
        limits=RateLimits(settings.rate_per_resident_per_minute, settings.rate_per_group_per_minute),
        escalation=escalation,
        faq_book=faq_book,
        audit=audit,
        petitions=petitions,
        notices=notices,
        photos=photos,
        photo_window=timedelta(minutes=settings.petition_photo_minutes),
    )
    accounts = StaffAccounts(
        SqlStaffAccounts(sessions),
        audit,
        clock,
        LoginPolicy(
            max_failures_per_user=settings.login_max_failures,
            window=timedelta(minutes=settings.login_lockout_minutes),
            session_length=timedelta(hours=settings.console_session_hours),
        ),
    )
    petition_reports = SqlPetitionReports(sessions, default_community=settings.default_community)
    dashboard = Dashboard(
        turns,
        groups,
        escalation,
        clock,
        petitions=petition_reports,
        utc_offset=timedelta(hours=settings.utc_offset_hours),
        default_community=settings.default_community,
    )
    return Application(
        settings=settings,
        clock=clock,
        sessions=sessions,
        embeddings=embeddings,
        index=index,
        ingestor=ingestor,
        retriever=retriever,
        answering=answering,
        assistant=assistant,
        knowledge=knowledge,
        groups=groups,
        group_accounts=SqlGroupAccounts(sessions),
        inbox=SqlInbox(sessions),
        outbox=outbox,
        escalation=escalation,
        petitions=petitions,
        routing=routing,
        deadlines=deadlines,
        recogniser=recogniser,
        api_keys=api_keys,
        open311=open311,
        photos=photos,
        door_codes=door_codes,
        expiry=expiry,
        elderly=elderly,
        faq_book=faq_book,
        audit=audit,
        accounts=accounts,
        dashboard=dashboard,
        petition_export=PetitionExport(
            petition_reports, audit, clock, utc_offset=timedelta(hours=settings.utc_offset_hours)
        ),
        welcome=MemberWelcome(groups, outbox, clock, default_text=settings.welcome_text),
        router=router,
        scheduler=scheduler,
        notices=notices,
    )
