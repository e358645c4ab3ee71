"""EWS operations: name -> handler(ctx, operation element) returning the response body element."""
from .find import find_item
from .folders import find_folder, get_folder
from .items import create_item, delete_item, get_item, move_item
from .names import convert_id, resolve_names
from .notify import get_events, subscribe, unsubscribe
from .sync import sync_folder_items
from .update import update_item

HANDLERS = {
    "GetFolder": get_folder, "FindFolder": find_folder, "FindItem": find_item, "GetItem": get_item,
    "CreateItem": create_item, "UpdateItem": update_item, "DeleteItem": delete_item, "MoveItem": move_item,
    "SyncFolderItems": sync_folder_items, "ResolveNames": resolve_names, "ConvertId": convert_id,
    "Subscribe": subscribe, "GetEvents": get_events, "Unsubscribe": unsubscribe,
}
