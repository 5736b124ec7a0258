"""The learner-facing words of the workshop pages, in Japanese and English (lesson text has its own)."""

from __future__ import annotations

LABELS = {
    "join_title": {"ja": "ワークショップに参加", "en": "Join a workshop"},
    "join_help": {"ja": "講師が示したコードと、講師に見せる名前を入力してください。アカウントは不要です。",
                  "en": "Type the code the instructor shows and the name the instructor will see. No account needed."},
    "code": {"ja": "参加コード", "en": "Join code"},
    "name": {"ja": "表示名", "en": "Display name"},
    "join": {"ja": "参加する", "en": "Join"},
    "no-workshop": {"ja": "このコードのワークショップはありません。", "en": "No workshop has this code."},
    "closed": {"ja": "このワークショップは終了しました。", "en": "This workshop is closed."},
    "full": {"ja": "このワークショップは満席です。", "en": "This workshop is full."},
    "step": {"ja": "ステップ", "en": "Step"},
    "lesson": {"ja": "レッスン", "en": "Lesson"},
    "checks": {"ja": "チェック（自動で緑になります）", "en": "Checks (they turn green by themselves)"},
    "solution": {"ja": "解答", "en": "Solution"},
    "finished": {"ja": "すべてのステップを終えました。おつかれさまでした！", "en": "You finished every step. Well done!"},
    "paused": {"ja": "講師が時計を止めています", "en": "The instructor paused the clock"},
    "closed_banner": {"ja": "ワークショップは終了しました", "en": "The workshop is closed"},
    "kubeconfig": {"ja": "kubeconfig をダウンロード（自分の kubectl 用）", "en": "Download the kubeconfig (for your own kubectl)"},
    "open_map": {"ja": "マップを新しいタブで開く", "en": "Open the map in a new tab"},
    "previous": {"ja": "前へ", "en": "Previous"},
    "next": {"ja": "次へ", "en": "Next"},
    "current": {"ja": "いまのステップへ", "en": "Back to the current step"},
    "message": {"ja": "講師からのお知らせ", "en": "From the instructor"},
    "reset": {"ja": "講師がクラスタをこのステップの始めに戻しました", "en": "The instructor reset your cluster to the start of this step"},
}


def labels(language: str) -> dict[str, str]:
    return {key: words.get(language) or words["en"] for key, words in LABELS.items()}
